/** What `regwatch local` prints once it is up: the endpoints and commands to try next. */
import path from 'node:path';
import type { LocalInstance } from './app.ts';

export interface BannerInput {
  instance: Pick<LocalInstance, 'url' | 'dynamodbEndpoint' | 'allowlistDiff' | 'allowlistRules'>;
  allowlistFile: string;
  dataDir?: string | undefined;
  /** Folder of the bundled example events, shown relative to `cwd`. */
  examplesDir: string;
  cwd: string;
  tokenSet: boolean;
  slack: boolean;
  minAlertSeverity: string;
}

function rel(cwd: string, file: string): string {
  const r = path.relative(cwd, file);
  return r === '' ? '.' : r.startsWith('..') ? file : r;
}

export function banner(input: BannerInput): string {
  const { instance: i, cwd } = input;
  const auth = input.tokenSet ? ' -H "authorization: Bearer $REGWATCH_LOCAL_TOKEN"' : '';
  const examples = rel(cwd, input.examplesDir);
  const diff = i.allowlistDiff;
  const changes = [
    diff.added.length ? `${diff.added.length} added` : '',
    diff.changed.length ? `${diff.changed.length} changed` : '',
    diff.removed.length ? `${diff.removed.length} removed` : '',
  ].filter(Boolean);
  return [
    'regwatch local is running',
    '',
    `  ingest     ${i.url}  (loopback only${input.tokenSet ? ', bearer token required' : ''})`,
    `    POST ${i.url}/v1/pod-events           forwarder pod events (JSON array)`,
    `    POST ${i.url}/v1/audit?cluster=NAME   audit EventList or JSON lines`,
    `    POST ${i.url}/v1/events               EventBridge events (ECR push, Inspector2)`,
    `    GET  ${i.url}/healthz`,
    `  dynamodb   ${i.dynamodbEndpoint}  (${input.dataDir ? `data in ${rel(cwd, input.dataDir)}` : 'in memory: gone when this stops'})`,
    `  allowlist  ${rel(cwd, input.allowlistFile)}: ${i.allowlistRules} rules${changes.length ? ` (${changes.join(', ')})` : ' (unchanged)'}`,
    `  alerts     console${input.slack ? ' + Slack' : ''}, new and reopened findings of severity ${input.minAlertSeverity} and above`,
    '',
    'Try next:',
    `  curl -sS${auth} -H 'content-type: application/json' --data-binary @${examples}/02-audit-webhook-eventlist.json '${i.url}/v1/audit?cluster=demo'`,
    `  curl -sS${auth} -H 'content-type: application/json' --data-binary @${examples}/01-forwarder-pod-events.json ${i.url}/v1/pod-events`,
    `  npx regwatch findings list --dynamodb-endpoint ${i.dynamodbEndpoint}`,
    `  ${input.tokenSet ? 'REGWATCH_SINK_TOKEN=$REGWATCH_LOCAL_TOKEN ' : ''}npx regwatch forward --cluster demo --sink ${i.url}/v1/pod-events`,
    '',
    'Ctrl-C stops it.',
  ].join('\n');
}
