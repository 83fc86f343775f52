"""Reading back what the trackers wrote: wandb's offline transaction logs (RUN/wandb/*/run-ID.wandb)
with wandb's own protobuf record type, and the MLflow store with the MLflow client."""

from __future__ import annotations

import json
import struct
from pathlib import Path

BLOCK = 32 * 1024  # the log is cut into blocks; a record header never straddles two
HEADER = 7  # crc32c (4), length (2, little-endian), chunk type (1)
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
WANDB_MAGIC = b":W&B"


def wandb_records(path: Path) -> list:
    """Every record of one .wandb file, as ``wandb.proto.wandb_internal_pb2.Record``."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    assert data[:4] == WANDB_MAGIC, f"{path}: not a wandb transaction log"
    pos, payload, out = HEADER, b"", []  # the file header has the size of a record header
    while pos + HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < HEADER:  # zero padding at the end of a block
            pos += left
            continue
        length, kind = struct.unpack("<HB", data[pos + 4:pos + HEADER])
        if kind == 0 and length == 0:  # unused tail
            break
        chunk = data[pos + HEADER:pos + HEADER + length]
        pos += HEADER + length
        payload = chunk if kind in (FULL, FIRST) else payload + chunk
        if kind in (FULL, LAST):
            rec = pb.Record()
            rec.ParseFromString(payload)
            out.append(rec)
    return out


def wandb_offline_runs(run_dir: Path) -> list[Path]:
    """The .wandb files of the offline runs under RUN/wandb, oldest first."""
    return sorted((run_dir / "wandb").glob("offline-run-*/run-*.wandb"))


def wandb_history(records: list) -> dict[int, dict]:
    """``{step: {key: value}}`` from the history records."""
    out: dict[int, dict] = {}
    for r in records:
        if r.WhichOneof("record_type") == "history":
            items = {(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in r.history.item}
            out.setdefault(int(items.get("_step", r.history.step.num)), {}).update(items)
    return out


def wandb_run_ids(records: list) -> set[str]:
    """Run ids named by the run records."""
    return {r.run.run_id for r in records if r.WhichOneof("record_type") == "run"}


def wandb_config(records: list) -> dict:
    """The config as the run and config records set it (top-level key -> value)."""
    out: dict = {}
    for r in records:
        kind = r.WhichOneof("record_type")
        cfg = r.run.config if kind == "run" else r.config if kind == "config" else None
        if cfg is not None:
            out.update({(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in cfg.update})
    return out


def wandb_summary(records: list) -> dict:
    """The summary values the summary records set."""
    out: dict = {}
    for r in records:
        if r.WhichOneof("record_type") == "summary":
            out.update({(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in r.summary.update})
    return out
