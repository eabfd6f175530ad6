/**
 * IAM as far as these tests need it: a role's statements from the template (resolved), whether
 * a recorded call is allowed by them (action and resource, with `*` and `?` globs), and which
 * granted actions no recorded call used.
 */
import { type CfnTemplate, type DeployedNames, resolveValue } from '../../helpers/template.ts';
import type { RecordedCall } from './fake-aws.ts';

export interface Statement {
  sid: string | undefined;
  policy: string;
  actions: string[];
  resources: string[];
}

function glob(pattern: string): RegExp {
  const escaped = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`);
}

/** Every Allow statement of the policies attached to `roleId`. */
export function roleStatements(
  template: CfnTemplate,
  roleId: string,
  names: DeployedNames,
): Statement[] {
  const out: Statement[] = [];
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::IAM::Policy') continue;
    const roles = (resource.Properties?.Roles as { Ref: string }[]) ?? [];
    if (!roles.some((r) => r.Ref === roleId)) continue;
    const document = resolveValue(resource.Properties?.PolicyDocument, template, names) as {
      Statement: {
        Sid?: string;
        Effect: string;
        Action: string | string[];
        Resource: string | string[];
      }[];
    };
    for (const st of document.Statement) {
      if (st.Effect !== 'Allow') continue;
      out.push({
        sid: st.Sid,
        policy: id,
        actions: [st.Action].flat(),
        resources: [st.Resource].flat(),
      });
    }
  }
  return out;
}

export function allows(statement: Statement, action: string, resource: string): boolean {
  return (
    statement.actions.some((a) => glob(a).test(action)) &&
    statement.resources.some((r) => glob(r).test(resource))
  );
}

/** The calls (action on a resource) that no statement allows. */
export function deniedCalls(statements: Statement[], calls: RecordedCall[]): string[] {
  const denied: string[] = [];
  for (const call of calls) {
    for (const resource of call.resources.length > 0 ? call.resources : ['*']) {
      if (!statements.some((st) => allows(st, call.action, resource))) {
        denied.push(`${call.action} on ${resource}`);
      }
    }
  }
  return [...new Set(denied)];
}

/** Granted `action on resource` pairs no recorded call used. */
export function unusedGrants(statements: Statement[], calls: RecordedCall[]): string[] {
  const unused: string[] = [];
  for (const st of statements) {
    for (const action of st.actions) {
      for (const resource of st.resources) {
        const used = calls.some(
          (call) =>
            glob(action).test(call.action) && call.resources.some((r) => glob(resource).test(r)),
        );
        if (!used) unused.push(`${action} on ${resource}`);
      }
    }
  }
  return unused;
}
