export { createSsoService, type SsoDeps, type SsoService } from './sso.service.js';
export { ssoRoutes } from './sso.routes.js';
export { SsoErrors } from './sso.errors.js';
export { createSsoSignIn, type SsoSignIn } from './signin.js';
export { ssoSignInRoutes } from './signin.routes.js';
export { createSsoPolicy, type SsoPolicy } from './sso-policy.service.js';
export { ssoPolicyRoutes } from './sso-policy.routes.js';
export { createCertificateWatch, type CertificateWatch } from './saml-certificates.js';
