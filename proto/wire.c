#include "proto/wire.h"

bool proto_wire_known(uint64_t type)
{
    switch (type) {
    case PROTO_WIRE_HELLO:
    case PROTO_WIRE_CLOCK:
    case PROTO_WIRE_CONS_REQ:
    case PROTO_WIRE_CONS:
    case PROTO_WIRE_RANGE_REQ:
    case PROTO_WIRE_RECORDS:
    case PROTO_WIRE_PUSH:
    case PROTO_WIRE_ANNOUNCE:
    case PROTO_WIRE_FORK:
    case PROTO_WIRE_ROOT_REQ:
    case PROTO_WIRE_ROOT:
    case PROTO_WIRE_PING:
    case PROTO_WIRE_PONG:
    case PROTO_WIRE_ERROR:
        return true;
    }
    return false;
}
