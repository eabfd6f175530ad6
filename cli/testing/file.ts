/**
 * The allowlist test file (`*.regwatch-test.yaml`), modelled on `kyverno test` and
 * `gator verify`: an allowlist (a file, or peer policies converted on the fly), resources
 * (manifest paths or inline images, with cluster and namespace) and the result expected for
 * each image: `allowed`, or the violation rule ids.
 *
 * ```yaml
 * name: payments images
 * allowlist: ../allowlist.yaml          # or convert: { from: kyverno, files: [policy.yaml] }
 * at: "2026-06-01T00:00:00Z"            # optional: the time rules are judged at (default now)
 * tests:
 *   - name: pinned api
 *     manifest: deploy/api.yaml         # or images: [ghcr.io/acme/api:1.2]
 *     objects: [Deployment/api]         # optional: only these objects of the manifest
 *     cluster: prod-euc1
 *     namespace: payments               # for objects without metadata.namespace
 *     expect:
 *       ghcr.io/acme/api:1.2: allowed
 *       nginx: [untrusted-source]
 * ```
 */
import * as z from 'zod';
import { VIOLATION_RULES } from '../../lambdas/core/types.ts';

const ruleId = z.enum(VIOLATION_RULES, {
  error: (issue) =>
    `${JSON.stringify(issue.input)} is not a violation rule (${VIOLATION_RULES.join(', ')})`,
});

export const expectationSchema = z.union(
  [z.literal('allowed'), ruleId.transform((r) => [r]), z.array(ruleId).min(1)],
  { error: 'must be "allowed", a violation rule id, or a list of them' },
);
export type Expectation = 'allowed' | string[];

const instant = z
  .string()
  .refine((t) => !Number.isNaN(Date.parse(t)) && /T.*(Z|[+-]\d\d:\d\d)$/i.test(t), {
    message: 'must be an ISO-8601 date-time with a time zone',
  });

/** What the peer suite said about the case, for suites ported from a peer (test/peers/). */
const peerSchema = z.strictObject({
  source: z.string().min(1),
  result: z.enum(['pass', 'fail']),
  /** Why regwatch's answer differs from the peer's; required when it does. */
  differs: z.string().min(1).optional(),
});

export const testCaseSchema = z
  .strictObject({
    name: z.string().min(1).max(200),
    description: z.string().max(2000).optional(),
    manifest: z.string().min(1).optional(),
    objects: z.array(z.string().min(1)).min(1).optional(),
    images: z.array(z.string()).min(1).max(10_000).optional(),
    cluster: z.string().min(1).optional(),
    namespace: z.string().min(1).optional(),
    expect: z.record(z.string(), expectationSchema),
    peer: peerSchema.optional(),
  })
  .superRefine((t, ctx) => {
    if ((t.manifest === undefined) === (t.images === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'give either manifest or images' });
    }
    if (t.objects !== undefined && t.manifest === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['objects'],
        message: 'objects selects from a manifest',
      });
    }
    if (Object.keys(t.expect).length === 0) {
      ctx.addIssue({ code: 'custom', path: ['expect'], message: 'must name at least one image' });
    }
  });
export type TestCase = z.infer<typeof testCaseSchema>;

export const testFileSchema = z
  .strictObject({
    name: z.string().min(1).max(200).optional(),
    description: z.string().max(4000).optional(),
    allowlist: z.string().min(1).optional(),
    convert: z
      .strictObject({
        from: z.enum(['gatekeeper', 'kyverno', 'kubewarden']),
        files: z.array(z.string().min(1)).min(1),
      })
      .optional(),
    at: instant.optional(),
    source: z.string().optional(),
    licence: z.string().optional(),
    tests: z.array(testCaseSchema).min(1, 'must list at least one test'),
  })
  .superRefine((f, ctx) => {
    if ((f.allowlist === undefined) === (f.convert === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'give either allowlist or convert' });
    }
    const seen = new Set<string>();
    f.tests.forEach((t, i) => {
      if (seen.has(t.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['tests', i, 'name'],
          message: 'duplicate test name',
        });
      }
      seen.add(t.name);
    });
  });
export type TestFile = z.infer<typeof testFileSchema>;
