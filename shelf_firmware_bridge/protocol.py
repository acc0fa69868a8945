"""The binary serial protocol between shelf controllers and the gateway (spec: PROTOCOL.md).

Pure: bytes in, frozen messages out, and back. No I/O, no clock.

Wire format of one frame (before framing)::

    type:u8 | seq:u16 LE | payload | crc32:u32 LE      (CRC-32/IEEE of type+seq+payload)

Framing is SLIP (RFC 1055): every frame is sent as ``END frame END`` with ``END`` (0xC0) and ``ESC``
(0xDB) escaped inside. A receiver that lost sync (garbage, dropped or flipped bytes) loses at most
the frame that contained the damage: the next ``END`` starts a fresh frame. Decoding runs at C speed
(``bytes.split`` / ``bytes.replace``), sample payloads are read with numpy.
"""

from __future__ import annotations

import struct
import unicodedata
import zlib
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Final

import numpy as np
import numpy.typing as npt

PROTOCOL_VERSION: Final = 1
END: Final = 0xC0
ESC: Final = 0xDB
ESC_END: Final = 0xDC
ESC_ESC: Final = 0xDD
MAX_FRAME: Final = 4096  # bytes of an unescaped frame; longer runs without END are garbage
MAX_SAMPLES_PER_FRAME: Final = 64
MAX_PLATES: Final = 64
TEXT_LINES_MAX: Final = 4
TEXT_LINE_LEN: Final = 32

_B_END = bytes([END])
_B_ESC = bytes([ESC])
_ESCAPED_END = bytes([ESC, ESC_END])
_ESCAPED_ESC = bytes([ESC, ESC_ESC])
_HEAD = struct.Struct("<BH")
_CRC = struct.Struct("<I")
_HELLO = struct.Struct("<BBBHQI")  # version, plates, first plate, rate centi-Hz, fw time us, ug/count
_SAMPLES = struct.Struct("<QIBBB")  # t0 us, period us, samples, plates, first plate
_REPLY = struct.Struct("<HBBd")  # request seq, command, status, value
_PLATE = struct.Struct("<BH")  # plate, samples to average
_SPAN = struct.Struct("<BIH")  # plate, known weight mg, samples to average
_U16 = struct.Struct("<H")


class FrameType(IntEnum):
    """First byte of every frame. 0x01-0x7F shelf -> gateway, 0x80-0xFF gateway -> shelf."""

    HELLO = 0x01
    INFO = 0x02
    SAMPLES = 0x10
    REPLY = 0x20
    TARE = 0x81
    SPAN = 0x82
    SET_RATE = 0x83
    IDENTIFY = 0x84
    GET_INFO = 0x85
    DISPLAY_TEXT = 0x86
    DISPLAY_CLEAR = 0x87


class Status(IntEnum):
    """Result of a gateway command, in a REPLY frame."""

    OK = 0
    BAD_ARGUMENT = 1
    BUSY = 2
    UNKNOWN_COMMAND = 3
    FAILED = 4


class ProtocolError(ValueError):
    """A frame that is well delimited but cannot be decoded; ``reason`` says why."""

    def __init__(self, reason: str, frame: bytes = b"") -> None:
        self.reason = reason
        self.frame = frame[:64]
        super().__init__(reason)


# ---------------------------------------------------------------------------------------- messages
@dataclass(frozen=True, slots=True)
class Hello:
    """Sent by the controller at boot, on reconnect, and (as INFO) in answer to GET_INFO."""

    protocol_version: int
    plates: int
    first_plate: int
    rate_hz: float
    fw_time_us: int
    ug_per_count: int
    firmware: str
    serial: str
    request_seq: int | None = None  # set on INFO replies


@dataclass(frozen=True, slots=True)
class Samples:
    """``raw[i, p]``: ADC counts of plate ``first_plate + p`` at firmware time ``t0_us + i * period_us``."""

    t0_us: int
    period_us: int
    first_plate: int
    raw: npt.NDArray[np.int32] = field(compare=False)

    @property
    def n_samples(self) -> int:
        return int(self.raw.shape[0])

    @property
    def n_plates(self) -> int:
        return int(self.raw.shape[1])

    @property
    def last_us(self) -> int:
        return self.t0_us + (self.n_samples - 1) * self.period_us


@dataclass(frozen=True, slots=True)
class Reply:
    """The controller's answer to a gateway command (``value``: mean raw counts for TARE / SPAN)."""

    request_seq: int
    command: int
    status: Status
    value: float


@dataclass(frozen=True, slots=True)
class Tare:
    plate: int
    samples: int = 60


@dataclass(frozen=True, slots=True)
class Span:
    plate: int
    known_mg: int
    samples: int = 60


@dataclass(frozen=True, slots=True)
class SetRate:
    rate_hz: float


@dataclass(frozen=True, slots=True)
class Identify:
    duration_ms: int


@dataclass(frozen=True, slots=True)
class GetInfo:
    """Ask the controller for its firmware, serial number, protocol version and sample rate."""


@dataclass(frozen=True, slots=True)
class DisplayText:
    display: int
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DisplayClear:
    display: int


Message = Hello | Samples | Reply | Tare | Span | SetRate | Identify | GetInfo | DisplayText | DisplayClear
Command = Tare | Span | SetRate | Identify | GetInfo | DisplayText | DisplayClear


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame: its sequence number and message."""

    seq: int
    message: Message


# ---------------------------------------------------------------------------------------- framing
def slip_encode(frame: bytes) -> bytes:
    """Escape ``frame`` and surround it with END bytes."""
    body = frame.replace(_B_ESC, _ESCAPED_ESC).replace(_B_END, _ESCAPED_END)
    return _B_END + body + _B_END


def slip_decode(body: bytes) -> bytes:
    """Undo the escaping of one END-delimited chunk; raise ProtocolError on a bad escape."""
    if ESC not in body:
        return body
    escapes = body.count(_B_ESC)
    if body.count(_ESCAPED_END) + body.count(_ESCAPED_ESC) != escapes:
        raise ProtocolError("bad SLIP escape", body)
    return body.replace(_ESCAPED_END, _B_END).replace(_ESCAPED_ESC, _B_ESC)


def _ascii(text: str, limit: int) -> bytes:
    """ASCII for the controller: accents folded (e -> e), anything else becomes '?'."""
    folded = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    data = folded.encode("ascii", "replace")[:limit]
    return bytes([len(data)]) + data


def _read_str(payload: bytes, pos: int) -> tuple[str, int]:
    if pos >= len(payload):
        raise ProtocolError("string length missing", payload)
    n = payload[pos]
    end = pos + 1 + n
    if end > len(payload):
        raise ProtocolError("string runs past the frame", payload)
    return payload[pos + 1 : end].decode("ascii", "replace"), end


def encode_payload(message: Message) -> tuple[FrameType, bytes]:
    """The frame type and payload bytes of ``message``."""
    if isinstance(message, Samples):
        raw = np.ascontiguousarray(message.raw, dtype="<i4")
        n, p = raw.shape
        if not (1 <= n <= MAX_SAMPLES_PER_FRAME and 1 <= p <= MAX_PLATES):
            raise ProtocolError(
                f"samples shape {raw.shape} outside 1..{MAX_SAMPLES_PER_FRAME} x 1..{MAX_PLATES}"
            )
        head = _SAMPLES.pack(message.t0_us, message.period_us, n, p, message.first_plate)
        return FrameType.SAMPLES, head + raw.tobytes()
    if isinstance(message, Hello):
        body = _HELLO.pack(
            message.protocol_version,
            message.plates,
            message.first_plate,
            round(message.rate_hz * 100),
            message.fw_time_us,
            message.ug_per_count,
        )
        body += _ascii(message.firmware, 64) + _ascii(message.serial, 64)
        if message.request_seq is not None:
            return FrameType.INFO, _U16.pack(message.request_seq) + body
        return FrameType.HELLO, body
    if isinstance(message, Reply):
        return FrameType.REPLY, _REPLY.pack(
            message.request_seq, message.command, int(message.status), message.value
        )
    if isinstance(message, Tare):
        return FrameType.TARE, _PLATE.pack(message.plate, message.samples)
    if isinstance(message, Span):
        return FrameType.SPAN, _SPAN.pack(message.plate, message.known_mg, message.samples)
    if isinstance(message, SetRate):
        return FrameType.SET_RATE, _U16.pack(round(message.rate_hz * 100))
    if isinstance(message, Identify):
        return FrameType.IDENTIFY, _U16.pack(message.duration_ms)
    if isinstance(message, GetInfo):
        return FrameType.GET_INFO, b""
    if isinstance(message, DisplayText):
        if not 1 <= len(message.lines) <= TEXT_LINES_MAX:
            raise ProtocolError(f"display text needs 1..{TEXT_LINES_MAX} lines, got {len(message.lines)}")
        body = bytes([message.display, len(message.lines)])
        for line in message.lines:
            body += _ascii(line, TEXT_LINE_LEN)
        return FrameType.DISPLAY_TEXT, body
    return FrameType.DISPLAY_CLEAR, bytes([message.display])


def encode_frame(message: Message, seq: int) -> bytes:
    """A complete frame on the wire: SLIP-framed type, sequence number, payload and CRC."""
    ftype, payload = encode_payload(message)
    body = _HEAD.pack(int(ftype), seq & 0xFFFF) + payload
    return slip_encode(body + _CRC.pack(zlib.crc32(body)))


def _decode_hello(payload: bytes, request_seq: int | None) -> Hello:
    if len(payload) < _HELLO.size + 2:
        raise ProtocolError("hello too short", payload)
    version, plates, first, centi_hz, fw_us, ug = _HELLO.unpack_from(payload)
    firmware, pos = _read_str(payload, _HELLO.size)
    serial, pos = _read_str(payload, pos)
    if pos != len(payload):
        raise ProtocolError("trailing bytes after hello", payload)
    return Hello(version, plates, first, centi_hz / 100.0, fw_us, ug, firmware, serial, request_seq)


def decode_payload(ftype: int, payload: bytes) -> Message:
    """Decode the payload of a frame of type ``ftype``; raise ProtocolError when malformed."""
    if ftype == FrameType.SAMPLES:
        if len(payload) < _SAMPLES.size:
            raise ProtocolError("samples header too short", payload)
        t0, period, n, p, first = _SAMPLES.unpack_from(payload)
        if not (1 <= n <= MAX_SAMPLES_PER_FRAME and 1 <= p <= MAX_PLATES):
            raise ProtocolError(f"samples shape {n}x{p} out of range", payload)
        if len(payload) != _SAMPLES.size + 4 * n * p:
            raise ProtocolError(
                f"samples frame holds {len(payload)} bytes, {n}x{p} need more or less", payload
            )
        raw = np.frombuffer(payload, dtype="<i4", offset=_SAMPLES.size).reshape(n, p)
        return Samples(t0, period, first, raw)
    if ftype == FrameType.HELLO:
        return _decode_hello(payload, None)
    if ftype == FrameType.INFO:
        if len(payload) < 2:
            raise ProtocolError("info too short", payload)
        return _decode_hello(payload[2:], _U16.unpack_from(payload)[0])
    if ftype == FrameType.REPLY:
        if len(payload) != _REPLY.size:
            raise ProtocolError("reply has the wrong length", payload)
        req, cmd, status, value = _REPLY.unpack(payload)
        if status not in Status._value2member_map_:
            raise ProtocolError(f"unknown reply status {status}", payload)
        return Reply(req, cmd, Status(status), value)
    if ftype == FrameType.TARE:
        if len(payload) != _PLATE.size:
            raise ProtocolError("tare has the wrong length", payload)
        return Tare(*_PLATE.unpack(payload))
    if ftype == FrameType.SPAN:
        if len(payload) != _SPAN.size:
            raise ProtocolError("span has the wrong length", payload)
        return Span(*_SPAN.unpack(payload))
    if ftype == FrameType.SET_RATE:
        if len(payload) != 2:
            raise ProtocolError("set-rate has the wrong length", payload)
        return SetRate(_U16.unpack(payload)[0] / 100.0)
    if ftype == FrameType.IDENTIFY:
        if len(payload) != 2:
            raise ProtocolError("identify has the wrong length", payload)
        return Identify(_U16.unpack(payload)[0])
    if ftype == FrameType.GET_INFO:
        if payload:
            raise ProtocolError("get-info carries no payload", payload)
        return GetInfo()
    if ftype == FrameType.DISPLAY_TEXT:
        if len(payload) < 2:
            raise ProtocolError("display text too short", payload)
        display, count = payload[0], payload[1]
        if not 1 <= count <= TEXT_LINES_MAX:
            raise ProtocolError(f"display text with {count} lines", payload)
        pos, lines = 2, []
        for _ in range(count):
            line, pos = _read_str(payload, pos)
            lines.append(line)
        if pos != len(payload):
            raise ProtocolError("trailing bytes after display text", payload)
        return DisplayText(display, tuple(lines))
    if ftype == FrameType.DISPLAY_CLEAR:
        if len(payload) != 1:
            raise ProtocolError("display clear has the wrong length", payload)
        return DisplayClear(payload[0])
    raise ProtocolError(f"unknown frame type 0x{ftype:02x}", payload)


def decode_frame(body: bytes) -> Frame:
    """Decode one unescaped frame (without END bytes): check length and CRC, then the payload."""
    if len(body) < _HEAD.size + _CRC.size:
        raise ProtocolError(f"frame of {len(body)} bytes is too short", body)
    (crc,) = _CRC.unpack_from(body, len(body) - 4)
    content = body[:-4]
    if zlib.crc32(content) != crc:
        raise ProtocolError("CRC mismatch", body)
    ftype, seq = _HEAD.unpack_from(content)
    return Frame(seq, decode_payload(ftype, content[_HEAD.size :]))


# ---------------------------------------------------------------------------------------- stream decoder
@dataclass(slots=True)
class DecoderStats:
    frames: int = 0
    bad_frames: int = 0  # CRC, escape, length or payload errors
    oversized: int = 0  # runs of bytes without END longer than MAX_FRAME (discarded)
    bytes_in: int = 0


class FrameDecoder:
    """Turns a byte stream into frames; resynchronises at the next END after any damage.

    ``feed`` never raises on bad input: damaged frames are counted in ``stats.bad_frames`` and the
    last error is kept in ``last_error``. Memory is bounded by :data:`MAX_FRAME`.
    """

    __slots__ = ("_buf", "last_error", "stats")

    def __init__(self) -> None:
        self._buf = b""
        self.stats = DecoderStats()
        self.last_error: ProtocolError | None = None

    def reset(self) -> None:
        """Forget a partial frame (the port was reopened); the counters keep counting."""
        self._buf = b""

    def feed(self, data: bytes) -> list[Frame]:
        self.stats.bytes_in += len(data)
        chunks = (self._buf + data).split(_B_END)
        self._buf = chunks.pop()
        if len(self._buf) > 2 * MAX_FRAME + 2:
            self._buf = b""
            self.stats.oversized += 1
        frames: list[Frame] = []
        for chunk in chunks:
            if not chunk:
                continue
            if len(chunk) > 2 * MAX_FRAME + 2:
                self.stats.oversized += 1
                continue
            try:
                frames.append(decode_frame(slip_decode(chunk)))
            except ProtocolError as exc:
                self.stats.bad_frames += 1
                self.last_error = exc
                continue
        self.stats.frames += len(frames)
        return frames


@dataclass(slots=True)
class SequenceTracker:
    """Counts frames lost on the line from gaps in the 16-bit sequence numbers.

    A jump backwards or further than half the sequence space is taken as a controller restart,
    not as loss (``restarts``).
    """

    last: int | None = None
    gaps: int = 0
    restarts: int = 0

    def see(self, seq: int) -> int:
        """Record ``seq``; return how many frames were lost just before it."""
        if self.last is None:
            self.last = seq
            return 0
        missing = (seq - self.last - 1) & 0xFFFF
        self.last = seq
        if missing >= 0x8000:
            self.restarts += 1
            return 0
        self.gaps += missing
        return missing

    def reset(self) -> None:
        self.last = None
