// The htmqc.v1 gRPC state service (proto/htmqc/v1/state.proto) and its client.

export { startStateService, type StateService, type StateServiceOptions, type StateSource, type TlsOptions } from './server';
export { BrokerPoller, partitionKey, type BrokerView, type BrokerViewSource, type GroupView, type MemberView } from './broker-view';
export { createStateClient, type StateClient, type StateClientOptions } from './client';
export { packageDefinition, protoDir, STATE_SERVICE, HEALTH_SERVICE } from './proto';
