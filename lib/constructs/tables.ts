import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import {
  type AttributeType,
  type IndexDefinition,
  type KeyDefinition,
  TABLES,
  type TableDefinition,
  type TableId,
} from '../../lambdas/adapters/dynamodb/schema.ts';

const ATTRIBUTE_TYPES: Record<AttributeType, dynamodb.AttributeType> = {
  S: dynamodb.AttributeType.STRING,
  N: dynamodb.AttributeType.NUMBER,
  B: dynamodb.AttributeType.BINARY,
};

function attribute(key: KeyDefinition): dynamodb.Attribute {
  return { name: key.name, type: ATTRIBUTE_TYPES[key.type] };
}

function gsiProps(index: IndexDefinition): dynamodb.GlobalSecondaryIndexProps {
  const projection = index.projection;
  return {
    indexName: index.name,
    partitionKey: attribute(index.partitionKey),
    ...(index.sortKey ? { sortKey: attribute(index.sortKey) } : {}),
    projectionType: dynamodb.ProjectionType[projection.type],
    ...(projection.type === 'INCLUDE'
      ? { nonKeyAttributes: [...projection.nonKeyAttributes] }
      : {}),
  };
}

/** A deployed table together with its plain-data definition (keys, index names). */
export interface RegwatchTable {
  table: dynamodb.Table;
  definition: TableDefinition;
  /** ARNs of the table's global secondary indexes, by index name. */
  indexArn(indexName: string): string;
}

/**
 * The allowlist, findings, images and inventory tables, built from `lambdas/adapters/dynamodb/schema.ts`
 * so the deployed keys and indexes are the ones the stores and local mode use. On-demand,
 * encrypted with one customer-managed key, point-in-time recovery, deletion protection, and
 * retained when the stack is deleted: findings are audit evidence.
 */
export class RegwatchTables extends Construct {
  readonly key: kms.Key;
  readonly allowlist: RegwatchTable;
  readonly findings: RegwatchTable;
  readonly images: RegwatchTable;
  /** What runs where (issue 11), kept current by the ingest functions. */
  readonly inventory: RegwatchTable;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.key = new kms.Key(this, 'Key', {
      description: 'regwatch DynamoDB tables',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const build = (tableId: TableId, streamed: boolean): RegwatchTable => {
      const definition: TableDefinition = TABLES[tableId];
      // `Table`, not `TableV2`: TableV2 with a customer-managed key needs a concrete region at
      // synth time, and this stack stays environment-agnostic unless context pins one.
      // No fixed name: the tables are retained when the stack is deleted, so a fixed name
      // would make a redeploy (or a second stack) fail on the table that is still there.
      // CloudFormation names them; the CLI reads the names from the stack's outputs, and
      // docs/stack-contract.md says how to re-attach retained tables.
      const table = new dynamodb.Table(this, tableId[0]?.toUpperCase() + tableId.slice(1), {
        partitionKey: attribute(definition.partitionKey),
        ...(definition.sortKey ? { sortKey: attribute(definition.sortKey) } : {}),
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryptionKey: this.key,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        deletionProtection: true,
        removalPolicy: RemovalPolicy.RETAIN,
        ...(definition.timeToLiveAttribute
          ? { timeToLiveAttribute: definition.timeToLiveAttribute }
          : {}),
        ...(streamed ? { stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES } : {}),
      });
      for (const index of definition.globalSecondaryIndexes) {
        table.addGlobalSecondaryIndex(gsiProps(index));
      }
      return {
        table,
        definition,
        indexArn: (indexName) => {
          if (!definition.globalSecondaryIndexes.some((index) => index.name === indexName)) {
            throw new Error(`table ${tableId} has no index ${indexName}`);
          }
          return `${table.tableArn}/index/${indexName}`;
        },
      };
    };

    // The reconcile function reads the allowlist's stream: a rule written by any client is
    // re-judged in seconds; old images name what a removed or changed rule could affect.
    this.allowlist = build('allowlist', true);
    // The stream carries new and old images so the alerts filter can see status transitions.
    this.findings = build('findings', true);
    this.images = build('images', false);
    this.inventory = build('inventory', false);
  }
}
