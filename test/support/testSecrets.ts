/**
 * The test suite's secrets, in a module of their own so that the check run at the end of
 * `npm test` (scripts/check-test-secrets.ts) can load them without loading SSH.
 */

/**
 * Every passphrase, password and code the tests type, defined here only. Each is distinctive (its
 * marker word and a random tail never occur by chance), so `scripts/check-test-secrets.ts` can
 * search everything a test run leaves behind for them and name the file and line of any it finds.
 * Spaces on purpose: they must survive prompts, stdin and askpass scripts intact.
 */
export const TEST_SECRETS = {
  keyPassphrase: 'ebpfstudio-TEST-SECRET key passphrase 7f3a9c',
  loginPassword: 'ebpfstudio-TEST-SECRET login password 91c2e4',
  /** What an expired login password is changed to. */
  newLoginPassword: 'ebpfstudio-TEST-SECRET new login password d03b6a',
  sudoPassword: 'ebpfstudio-TEST-SECRET sudo password 5b8d21',
  oneTimeCode: 'ebpfstudio-TEST-SECRET one-time code 3e7104',
  /** A second passphrase, for tests that need one kept and another typed. */
  otherPassphrase: 'ebpfstudio-TEST-SECRET other passphrase a41d07',
} as const;

/** Which secret a value is, by the name a finding gives it (never the value itself). */
export type TestSecretName = keyof typeof TEST_SECRETS;
