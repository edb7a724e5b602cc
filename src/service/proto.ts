// Loads proto/ (htmqc.v1, grpc.health.v1) and the reflection protos shipped
// with @grpc/reflection into one package definition, so that the reflection
// service describes every service the server registers.

import * as fs from 'fs';
import * as path from 'path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** Field names as written in the .proto files; enums as their names; int64 as JS numbers (offsets stay below 2^53). */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true, longs: Number, enums: String, defaults: true, arrays: true, oneofs: true,
};

export const STATE_SERVICE = 'htmqc.v1.StateService';
export const HEALTH_SERVICE = 'grpc.health.v1.Health';

/** The directory holding htmqc/v1/state.proto: <repo>/proto, found from src/ and dist/src/ alike. */
export function protoDir(): string {
  let dir = __dirname;
  for (;;) {
    const candidate = path.join(dir, 'proto', 'htmqc', 'v1', 'state.proto');
    if (fs.existsSync(candidate)) return path.join(dir, 'proto');
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`proto/htmqc/v1/state.proto not found above ${__dirname}`);
    dir = up;
  }
}

function reflectionProtoDir(): string {
  return path.join(path.dirname(require.resolve('@grpc/reflection/package.json')), 'build', 'proto');
}

let cached: protoLoader.PackageDefinition | undefined;

/** htmqc.v1, grpc.health.v1 and grpc.reflection.v1/v1alpha, as one package definition. */
export function packageDefinition(): protoLoader.PackageDefinition {
  cached ??= protoLoader.loadSync(
    ['htmqc/v1/state.proto', 'grpc/health/v1/health.proto', 'grpc/reflection/v1/reflection.proto', 'grpc/reflection/v1alpha/reflection.proto'],
    { ...LOADER_OPTIONS, includeDirs: [protoDir(), reflectionProtoDir()] },
  );
  return cached;
}

export function serviceDefinition(name: string): grpc.ServiceDefinition {
  const def = packageDefinition()[name];
  if (def === undefined || 'format' in def) throw new Error(`${name} is not a service of the loaded protos`);
  return def as grpc.ServiceDefinition;
}

/** Client constructors for the loaded protos (used by the CLI, the tests and the benchmark). */
export function grpcObject(): grpc.GrpcObject {
  return grpc.loadPackageDefinition(packageDefinition());
}
