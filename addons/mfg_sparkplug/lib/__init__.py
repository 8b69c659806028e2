"""Sparkplug B without ORM: codec.py (topics, protobuf payloads, datatypes; sparkplug_b_pb2.py
is protoc's output of Eclipse Tahu's sparkplug_b.proto), session.py (births, aliases, seq,
bdSeq, rebirth requests), aggregate.py (metric map → canonical facts, aggregated)."""

from . import codec
from . import session
from . import aggregate
