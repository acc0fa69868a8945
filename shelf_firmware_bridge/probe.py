"""``shelf-bridge probe PORT``: check one shelf controller by hand, without MQTT or the running bridge.

Opens the serial port, asks the controller who it is, listens for ``--seconds`` and prints its
firmware, the line quality (good frames, damaged frames, lost frames) and each plate's mean raw
count and noise. Stop the bridge service first: a serial port has one reader.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import serial

from shelf_firmware_bridge import protocol as P


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("port", help="Serial device, e.g. /dev/serial/by-id/usb-smartshelf-g1-s1")
    parser.add_argument("--baudrate", type=int, default=921600, help="Line speed (default 921600).")
    parser.add_argument("--seconds", type=float, default=3.0, help="How long to listen (default 3).")
    parser.add_argument("--identify", action="store_true", help="Also make the controller blink for 5 s.")


def run(args: argparse.Namespace) -> int:
    try:
        ser = serial.Serial(args.port, args.baudrate, timeout=0.05)
    except (serial.SerialException, OSError) as exc:
        print(f"error: cannot open {args.port}: {exc}")
        return 2
    decoder = P.FrameDecoder()
    sequence = P.SequenceTracker()
    hello: P.Hello | None = None
    rows: list[np.ndarray] = []
    replies: list[P.Reply] = []
    with ser:
        ser.reset_input_buffer()
        ser.write(P.encode_frame(P.GetInfo(), 1))
        if args.identify:
            ser.write(P.encode_frame(P.Identify(5000), 2))
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            for frame in decoder.feed(ser.read(4096)):
                sequence.see(frame.seq)
                msg = frame.message
                if isinstance(msg, P.Hello):
                    hello = msg
                elif isinstance(msg, P.Samples):
                    rows.extend(msg.raw.astype(np.float64))
                elif isinstance(msg, P.Reply):
                    replies.append(msg)
    stats = decoder.stats
    print(f"port       {args.port}")
    if hello is None:
        print("controller did not answer GET_INFO (wrong port, baud rate or protocol?)")
    else:
        print(f"controller {hello.serial}, firmware {hello.firmware}, protocol {hello.protocol_version}")
        print(
            f"plates     {hello.plates} from {hello.first_plate}, {hello.rate_hz:g} Hz, {hello.ug_per_count} ug/count"
        )
    print(
        f"line       {stats.frames} good frames, {stats.bad_frames + stats.oversized} damaged, {sequence.gaps} lost"
    )
    if args.identify:
        ok = any(r.command == P.FrameType.IDENTIFY and r.status == P.Status.OK for r in replies)
        print(f"identify   {'blinking' if ok else 'no confirmation'}")
    if rows:
        data = np.vstack(rows)
        first = hello.first_plate if hello else 1
        print(f"samples    {len(data)}")
        for i in range(data.shape[1]):
            print(
                f"  plate {first + i:>2}: mean {data[:, i].mean():>12.1f} counts, std {data[:, i].std():7.2f} counts"
            )
    return 0 if hello is not None else 1
