// Loads proto/ (htmqc.v1, grpc.health.v1) and the reflection protos shipped
// with @grpc/reflection into one package definition, so that the reflection
// service describes every service the server registers.

import * as fs from 'fs';
import * as path from 'path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import * as descriptor from 'protobufjs/ext/descriptor';

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

/** protoc's name for a map field's entry message: foo_bar -> FooBarEntry. */
export function mapEntryName(field: string): string {
  return field.split('_').filter((w) => w !== '').map((w) => w[0]!.toUpperCase() + w.slice(1)).join('') + 'Entry';
}

interface MessageDescriptor {
  name: string;
  field?: { name: string; typeName?: string }[];
  nestedType?: MessageDescriptor[];
  options?: { mapEntry?: boolean } | null;
}

/**
 * Renames map entries to protoc's FieldNameEntry in one message and its
 * nested ones.  protobufjs names the entry of `map<..> statuses` "Statuses",
 * and Go's protobuf (grpcurl, grpc-gateway) rejects that descriptor: "message
 * field grpc.health.v1.HealthListResponse.statuses is an invalid map:
 * incorrect implicit map entry name".  Returns whether anything changed.
 */
function fixMapEntries(m: MessageDescriptor): boolean {
  let changed = false;
  for (const nested of m.nestedType ?? []) changed = fixMapEntries(nested) || changed;
  for (const f of m.field ?? []) {
    const entry = (m.nestedType ?? []).find((n) => n.options?.mapEntry === true && f.typeName !== undefined
      && (f.typeName === n.name || f.typeName.endsWith(`.${m.name}.${n.name}`)));
    const want = mapEntryName(f.name);
    if (entry === undefined || entry.name === want) continue;
    f.typeName = f.typeName!.slice(0, f.typeName!.length - entry.name.length) + want;
    entry.name = want;
    changed = true;
  }
  return changed;
}

/** One serialized FileDescriptorProto with protoc's map entry names. */
function protocCompatibleFileDescriptor(bytes: Buffer): Buffer {
  const file = descriptor.FileDescriptorProto.decode(bytes) as unknown as { messageType?: MessageDescriptor[] };
  let changed = false;
  for (const m of file.messageType ?? []) changed = fixMapEntries(m) || changed;
  if (!changed) return bytes;
  return Buffer.from(descriptor.FileDescriptorProto.encode(file as unknown as descriptor.IFileDescriptorProto).finish());
}

let reflectionCached: protoLoader.PackageDefinition | undefined;

/** packageDefinition() with descriptors every reflection client accepts (see fixMapEntries). */
export function reflectionPackageDefinition(): protoLoader.PackageDefinition {
  if (reflectionCached) return reflectionCached;
  const fixed = new Map<Buffer, Buffer>();
  const out: protoLoader.PackageDefinition = {};
  for (const [name, def] of Object.entries(packageDefinition())) {
    const files = (def as { fileDescriptorProtos?: Buffer[] }).fileDescriptorProtos;
    if (files === undefined) { out[name] = def; continue; }
    const mapped = files.map((b) => {
      let f = fixed.get(b);
      if (f === undefined) { f = protocCompatibleFileDescriptor(b); fixed.set(b, f); }
      return f;
    });
    out[name] = { ...def, fileDescriptorProtos: mapped } as typeof def;
  }
  reflectionCached = out;
  return out;
}
