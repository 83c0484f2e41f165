/** Entry point of the hub layer: the contract and the embedded implementation. */
export type {
  Hub,
  HubEvent,
  HubHistoryPage,
  HubHistoryQuery,
  HubListener,
  HubMessage,
  HubPublishOptions,
  HubSubscription,
  ResetReason,
} from './hub.ts';
export { MemoryHub, type MemoryHubOptions } from './memory.ts';
