import { type Static, Type as T } from '@sinclair/typebox';

/** The error body of every 4xx and 5xx response. */
export const ErrorBody = T.Object(
  { error: T.Object({ code: T.String(), message: T.String() }) },
  { $id: 'Error' },
);

/** A device of the inventory, as the API serves it. */
export const Device = T.Object(
  {
    ip: T.String({ description: 'Device address' }),
    firstSeen: T.String({ format: 'date-time' }),
    lastSeen: T.String({ format: 'date-time' }),
    bytes: T.Integer({ description: 'Bytes sent and received' }),
    packets: T.Integer(),
    flows: T.Integer(),
    bytesSent: T.Integer(),
    packetsSent: T.Integer(),
    flowsSent: T.Integer(),
    bytesReceived: T.Integer(),
    packetsReceived: T.Integer(),
    flowsReceived: T.Integer(),
  },
  { $id: 'Device' },
);
export type Device = Static<typeof Device>;

export const DeviceList = T.Object({
  items: T.Array(Device),
  nextCursor: T.Union([T.String(), T.Null()], { description: 'Pass as `cursor` for the next page' }),
});

export const DeviceListQuery = T.Object({
  limit: T.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  cursor: T.Optional(T.String({ maxLength: 64, description: 'From the previous page' })),
});

export const IpParams = T.Object({ ip: T.String({ minLength: 2, maxLength: 64 }) });
