"""Run the benchmark: `make bench` (or `.venv/bin/python -m bench [--quick]`).

1. Cold start of the tuned stack (engine, action server, gateway) to healthy.
2. Load through the signed Twilio SMS webhook (the full path: signature check, CRM, engine,
   actions) at 1, 20 and 50 concurrent conversations; and raw REST to the same engine, to get
   the gateway's own overhead.
3. The same bot on raw Rasa with its default pipeline and policies, through its REST channel.
4. Peak RSS of every process, and intent accuracy / out-of-scope recall of both models on the
   team's held-out NLU test set.
Results: `bench/results/latest.json`, `bench/results/latest.md`, and the table in README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from bench import load
from bench.load import LevelResult, rest_sender, run_level, sms_sender
from bot import REPO_ROOT
from bot.cli import load_demo, migrate
from bot.config import Settings
from bot.runner import ENGINE_BIN, MODEL, Stack, StackConfig, free_port

WORK = REPO_ROOT / "var" / "bench"
RESULTS = REPO_ROOT / "bench" / "results"
DEFAULT_MODEL = WORK / "models" / "default.tar.gz"
TRAINING = [
    "domain.yml",
    "data/nlu",
    "data/rules.yml",
    "data/stories.yml",
    "bench/default_config.yml",
]
LEVELS = (1, 20, 50)
TWILIO_NUMBER = "+15550100000"


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for name in TRAINING:
        path = REPO_ROOT / name
        for file in sorted(path.rglob("*.yml")) if path.is_dir() else [path]:
            digest.update(file.read_bytes())
    return digest.hexdigest()


def train_default_model() -> None:
    """Train raw default Rasa on the same bot, unless the training data is unchanged."""
    stamp = WORK / "default.fingerprint"
    if DEFAULT_MODEL.exists() and stamp.exists() and stamp.read_text() == _fingerprint():
        return
    print("training the default-Rasa model for comparison (takes a while)…", flush=True)
    subprocess.run(
        [
            str(ENGINE_BIN / "rasa"),
            "train",
            "--config",
            "bench/default_config.yml",
            "--fixed-model-name",
            "default",
            "--out",
            str(DEFAULT_MODEL.parent),
            "--quiet",
        ],
        cwd=REPO_ROOT,
        check=True,
    )
    stamp.write_text(_fingerprint())


def peak_rss_mb(stack: Stack) -> dict[str, float]:
    """Peak resident memory (VmHWM) of each process group of the stack, in MB."""
    groups = {proc.pid: name for name, proc in stack.processes.items()}
    peaks = dict.fromkeys(groups.values(), 0.0)
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":", 1) for line in status.read_text().splitlines() if ":" in line
            )
            pgid = os.getpgid(int(status.parent.name))
        except (OSError, ValueError):
            continue
        if pgid in groups and "VmHWM" in fields:
            peaks[groups[pgid]] += int(fields["VmHWM"].split()[0]) / 1024
    return {name: round(mb, 1) for name, mb in peaks.items()}


def start(stack: Stack) -> float:
    began = time.perf_counter()
    stack.start()
    stack.wait_healthy(timeout=300)
    return round(time.perf_counter() - began, 1)


PACED_CONVERSATIONS, PAUSE_SECONDS = 20, 2.0


def _show(label: str, result: LevelResult) -> None:
    print(
        f"  {label:>24}: {result.throughput:6.1f} msg/s, p50 {result.p50_ms:6.0f} ms, "
        f"p95 {result.p95_ms:6.0f} ms, {result.errors} errors",
        flush=True,
    )


def warm_up(send) -> None:  # type: ignore[no-untyped-def]
    """One conversation first, so lazy loading (TensorFlow graphs, caches) is not measured."""
    asyncio.run(run_level(send, 1, 1, lambda i: f"+1555999{i:04d}"))


def paced(send, prefix) -> LevelResult:  # type: ignore[no-untyped-def]
    result = asyncio.run(
        run_level(send, PACED_CONVERSATIONS, 1, lambda i: prefix(99, i), pause=PAUSE_SECONDS)
    )
    _show(f"{PACED_CONVERSATIONS} paced ({PAUSE_SECONDS:.0f} s pause)", result)
    return result


def _row(result: LevelResult) -> dict:
    return asdict(result) | {"throughput": result.throughput}


def levels(send, prefix, rounds: int) -> list[LevelResult]:  # type: ignore[no-untyped-def]
    warm_up(send)
    results = []
    for level in LEVELS:
        result = asyncio.run(run_level(send, level, rounds, lambda i, lv=level: prefix(lv, i)))
        _show(f"{level} conversations", result)
        results.append(result)
    return results


def nlu_scores(model: Path, name: str) -> dict[str, float]:
    out = WORK / f"nlu-{name}"
    subprocess.run(
        [
            str(ENGINE_BIN / "rasa"),
            "test",
            "nlu",
            "--nlu",
            "tests/nlu_test_set.yml",
            "--model",
            str(model),
            "--out",
            str(out),
            "--quiet",
        ],
        cwd=REPO_ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    report = json.loads((out / "intent_report.json").read_text())
    return {
        "intent_accuracy": round(report["accuracy"], 3),
        "out_of_scope_recall": round(report["out_of_scope"]["recall"], 3),
    }


def run(rounds: int) -> dict:
    WORK.mkdir(parents=True, exist_ok=True)
    train_default_model()
    database_url = f"sqlite:///{WORK / 'bench.db'}"
    (WORK / "bench.db").unlink(missing_ok=True)
    migrate(database_url)
    load_demo(Settings(database_url=database_url))
    token = "bench-" + os.urandom(8).hex()
    gateway_port = free_port()
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    env = {
        "PUBLIC_BASE_URL": gateway_url,
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": token,
        "TWILIO_NUMBER": TWILIO_NUMBER,
    }
    tuned = Stack(
        StackConfig(
            database_url=database_url,
            state_dir=WORK / "tuned",
            rasa_port=free_port(),
            actions_port=free_port(),
            gateway_port=gateway_port,
            extra_env=env,
        )
    )
    out: dict = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores",
        "rounds": rounds,
    }
    try:
        out["tuned_cold_start_s"] = start(tuned)
        print(f"tuned stack healthy after {out['tuned_cold_start_s']} s; SMS webhook:")
        sms = sms_sender(gateway_url, gateway_url, token, TWILIO_NUMBER)
        warm_up(sms)
        load.GATEWAY_MS.clear()
        single = asyncio.run(run_level(sms, 1, rounds, lambda i: f"+1555777{i:04d}"))
        out["gateway_overhead_p50_ms"] = round(statistics.median(load.GATEWAY_MS), 1)
        print(
            f"  gateway's own time at p50 (1 conversation): "
            f"{out['gateway_overhead_p50_ms']} ms over {single.requests} requests"
        )
        out["sms"] = [
            asdict(r) | {"throughput": r.throughput}
            for r in levels(sms, lambda lv, i: f"+1555{lv:02d}{i:05d}", rounds)
        ]
        out["sms_paced"] = _row(paced(sms, lambda lv, i: f"+1555{lv:02d}{i:05d}"))
        print("raw REST to the tuned engine:")
        engine = rest_sender(tuned.config.rasa_url)
        out["tuned_engine_rest"] = [
            asdict(r) | {"throughput": r.throughput}
            for r in levels(engine, lambda lv, i: f"e{lv}-{i}", rounds)
        ]
        out["tuned_peak_rss_mb"] = peak_rss_mb(tuned)
    finally:
        tuned.stop()
    default = Stack(
        StackConfig(
            database_url=database_url,
            state_dir=WORK / "default",
            rasa_port=free_port(),
            actions_port=free_port(),
            gateway_port=free_port(),
            model=DEFAULT_MODEL,
        )
    )
    try:
        out["default_cold_start_s"] = start(default)
        print(f"default-Rasa stack healthy after {out['default_cold_start_s']} s; raw REST:")
        raw = rest_sender(default.config.rasa_url)
        out["default_rasa_rest"] = [
            asdict(r) | {"throughput": r.throughput}
            for r in levels(raw, lambda lv, i: f"d{lv}-{i}", rounds)
        ]
        out["default_paced"] = _row(paced(raw, lambda lv, i: f"d{lv}-{i}"))
        out["default_peak_rss_mb"] = peak_rss_mb(default)
    finally:
        default.stop()
    out["nlu"] = {
        "tuned": nlu_scores(MODEL, "tuned"),
        "default": nlu_scores(DEFAULT_MODEL, "default"),
    }
    return out


def markdown(r: dict) -> str:
    rows = [
        "| conversations | SMS path msg/s | SMS p50 / p95 ms | default Rasa msg/s | "
        "default p50 / p95 ms | SMS ÷ default |",
        "|---|---|---|---|---|---|",
    ]
    for sms, raw in zip(r["sms"], r["default_rasa_rest"], strict=True):
        ratio = sms["throughput"] / raw["throughput"] if raw["throughput"] else 0
        rows.append(
            f"| {sms['concurrency']} | {sms['throughput']:.1f} | "
            f"{sms['p50_ms']:.0f} / {sms['p95_ms']:.0f} | {raw['throughput']:.1f} | "
            f"{raw['p50_ms']:.0f} / {raw['p95_ms']:.0f} | {ratio:.2f}× |"
        )
    overhead = r["gateway_overhead_p50_ms"]
    tuned_rss = sum(r["tuned_peak_rss_mb"].values())
    lines = [
        f"Benchmark of {r['date']} on {r['machine']} ({r['rounds']} round(s) of a "
        f"{7}-message conversation per concurrent conversation):",
        "",
        *rows,
        "",
        f"* {PACED_CONVERSATIONS} conversations with citizens pausing {PAUSE_SECONDS:.0f} s "
        f"between messages: SMS path p50 {r['sms_paced']['p50_ms']:.0f} ms, "
        f"p95 {r['sms_paced']['p95_ms']:.0f} ms; default Rasa p50 "
        f"{r['default_paced']['p50_ms']:.0f} ms, p95 {r['default_paced']['p95_ms']:.0f} ms.",
        f"* Gateway overhead at p50 (1 conversation): {overhead:.1f} ms – the gateway's own "
        "time per SMS (signature, CRM writes, TwiML), from its Server-Timing header; raw REST "
        f"to the same engine: p50 {r['tuned_engine_rest'][0]['p50_ms']:.0f} ms.",
        f"* Peak RSS, tuned stack: {tuned_rss:.0f} MB "
        f"({', '.join(f'{k} {v:.0f}' for k, v in r['tuned_peak_rss_mb'].items())}); "
        f"default Rasa stack: {sum(r['default_peak_rss_mb'].values()):.0f} MB.",
        f"* Cold start to healthy: tuned {r['tuned_cold_start_s']} s, "
        f"default {r['default_cold_start_s']} s.",
        f"* NLU on the held-out set: tuned accuracy {r['nlu']['tuned']['intent_accuracy']}, "
        f"out-of-scope recall {r['nlu']['tuned']['out_of_scope_recall']}; default "
        f"{r['nlu']['default']['intent_accuracy']} / "
        f"{r['nlu']['default']['out_of_scope_recall']}.",
    ]
    return "\n".join(lines) + "\n"


def update_readme(table: str) -> None:
    readme = REPO_ROOT / "README.md"
    text = readme.read_text()
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        _, after = rest.split(end, 1)
        readme.write_text(f"{before}{start}\n{table}{end}{after}")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--rounds", type=int, default=2, help="script repetitions per conversation and level"
    )
    args = parser.parse_args()
    if not MODEL.exists():
        print("no trained model: run `make train` first", file=sys.stderr)
        return 1
    results = run(args.rounds)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    (RESULTS / "latest.md").write_text(table)
    update_readme(table)
    print("\n" + table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
