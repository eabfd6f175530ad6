import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/** `Source` of the in-cluster forwarder's entries. */
export const FORWARDER_SOURCE = 'regwatch.forwarder';
export const POD_EVENT_DETAIL_TYPE = 'Pod Event';
/** `Source` / `DetailType` of the finding events regwatch publishes. */
export const FINDING_SOURCE = 'regwatch';
export const FINDING_DETAIL_TYPE = 'Finding';

export interface RegwatchEventBusProps {
  busName: string;
  /** When set, principals of this AWS Organization may put forwarder events on the bus. */
  organizationId?: string | undefined;
}

/**
 * The custom bus the forwarder writes to and regwatch publishes findings on. Clusters in other
 * accounts of the organisation may put events only with the forwarder's `Source`, so a
 * compromised workload elsewhere cannot forge regwatch's own finding events.
 */
export class RegwatchEventBus extends Construct {
  readonly bus: events.EventBus;

  constructor(scope: Construct, id: string, props: RegwatchEventBusProps) {
    super(scope, id);
    this.bus = new events.EventBus(this, 'Bus', {
      eventBusName: props.busName,
      description: 'regwatch: pod events from cluster forwarders, finding events from regwatch',
    });
    if (props.organizationId) {
      this.bus.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'OrganizationForwarders',
          effect: iam.Effect.ALLOW,
          principals: [new iam.AnyPrincipal()],
          actions: ['events:PutEvents'],
          resources: [this.bus.eventBusArn],
          conditions: {
            StringEquals: {
              'aws:PrincipalOrgID': props.organizationId,
              'events:source': FORWARDER_SOURCE,
            },
          },
        }),
      );
    }
  }
}
