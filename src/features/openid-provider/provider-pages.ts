import type { KoaContextWithOIDC } from 'oidc-provider';

/**
 * The few pages oidc-provider renders itself (its logout confirmation, the page after logout, an error that cannot
 * be sent back to the application). Plain HTML with no script and no outside resource; every value escaped.
 */
const escapeHtml = (value: unknown) => String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title: string, body: string): string {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem;color:#1a1b1e}button{font:inherit;padding:.5rem 1rem;margin:.25rem .5rem .25rem 0}</style></head>
<body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
}

export function logoutSource(ctx: KoaContextWithOIDC, form: string): void {
  ctx.type = 'html';
  ctx.body = page(
    'Sign out',
    `<p>Do you want to sign out of Tessera? You will be signed out of every application that uses this sign-in.</p>${form}
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>`,
  );
}

export function postLogoutSuccessSource(ctx: KoaContextWithOIDC): void {
  ctx.type = 'html';
  ctx.body = page('Signed out', '<p>You are signed out. You can close this window.</p>');
}

export function renderError(ctx: KoaContextWithOIDC, out: { error: string; error_description?: string }): void {
  ctx.type = 'html';
  ctx.body = page(
    'Sign-in could not continue',
    `<p>${escapeHtml(out.error_description ?? 'The request is not valid.')}</p><p>Error code: <code>${escapeHtml(out.error)}</code>. Go back to the application and try again; if it keeps happening, tell its administrator.</p>`,
  );
}
