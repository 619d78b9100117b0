/**
 * PostgreSQL error classes a service maps to its own codes (PostgreSQL manual, appendix A "Error Codes"):
 * a unique index or a foreign key decides a race that a read-then-write could not.
 */
function sqlState(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
}

/** 23505 unique_violation. */
export function isUniqueViolation(error: unknown): boolean {
  return sqlState(error) === '23505';
}

/** 23503 foreign_key_violation. */
export function isForeignKeyViolation(error: unknown): boolean {
  return sqlState(error) === '23503';
}
