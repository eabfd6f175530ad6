/**
 * The OCI side of ECR as IAM sees it: each request a bundle made to the loopback registry that
 * stands in for `ACCOUNT.dkr.ecr.REGION.amazonaws.com` becomes the IAM action ECR authorises it
 * with — manifests and the referrers API `ecr:BatchGetImage`, blobs
 * `ecr:GetDownloadUrlForLayer` — on the repository's ARN, so the deploy test checks them
 * against the role like every other AWS call.
 */
import type { RecordedCall } from './fake-aws.ts';

const OCI_PATH = /^(?:GET|HEAD) \/v2\/(.+)\/(manifests|blobs|referrers)\/[^/]+$/;

export function ecrRegistryCalls(
  requests: readonly string[],
  caller: string,
  repositoryArn: (name: string) => string,
): RecordedCall[] {
  const out: RecordedCall[] = [];
  for (const request of requests) {
    const m = OCI_PATH.exec(request);
    if (!m) continue; // `/v2/` pings and `/token` are not authorised by IAM
    const [, name = '', kind] = m;
    out.push({
      action: kind === 'blobs' ? 'ecr:GetDownloadUrlForLayer' : 'ecr:BatchGetImage',
      resources: [repositoryArn(name)],
      caller,
      params: { request },
    });
  }
  return out;
}
