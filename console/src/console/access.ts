import { useQuery } from '@tanstack/react-query';
import { useSyncExternalStore } from 'react';
import { api, call, getSession, subscribeSession } from '../api/client';

export function useSession() {
  return useSyncExternalStore(subscribeSession, getSession);
}

export function useMe() {
  return useQuery({ queryKey: ['me'], queryFn: () => call(api.GET('/api/v1/me')) });
}

export function useMyAccess() {
  return useQuery({ queryKey: ['me', 'access'], queryFn: () => call(api.GET('/api/v1/me/access')) });
}

/**
 * The permission keys the signed-in user holds in the session's account (`/me/access`), to show only what they may
 * use. The API stays the enforcement point: a hidden page is a courtesy, not a guard.
 */
export function usePermissions(): { ready: boolean; has: (key: string) => boolean; isTenantAdmin: boolean } {
  const session = useSession();
  const access = useMyAccess();
  const me = useMe();
  const account = access.data?.accounts.find((a) => a.accountId === session?.accountId);
  const keys = new Set(account?.permissions.map((p) => p.key) ?? []);
  return { ready: access.isSuccess && me.isSuccess, has: (key) => keys.has(key), isTenantAdmin: me.data?.isTenantAdmin ?? false };
}
