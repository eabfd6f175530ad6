/**
 * PLACEHOLDER so the CDK app synthesises before the real handler exists; the handler's owner
 * replaces this file. The trigger, event shape, environment and permissions this handler gets
 * are in docs/stack-contract.md.
 */
export async function handler(): Promise<never> {
  throw new Error('not implemented yet');
}
