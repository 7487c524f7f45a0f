"""`make run` = `tokenomy serve --demo`: simulator + gateway + a key, three lines printed."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import httpx
import openai

from serving import free_port, tokenomy_command


def test_serve_demo_prints_what_a_new_user_needs_and_it_works(tmp_path: Path) -> None:
    port, sim_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENOMY_")}
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([*tokenomy_command(), "serve", "--demo", "--port", str(port),
                                 "--simulator-port", str(sim_port)], cwd=tmp_path, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        text = log.read_text()
        assert f"Base URL: http://127.0.0.1:{port}/v1" in text
        key = re.search(r"API key:  (tk-\S+)", text)
        assert key is not None and "curl -s" in text
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key.group(1))
        raw = client.chat.completions.with_raw_response.create(
            model="sim-small", messages=[{"role": "user", "content": "Hello!"}])
        assert raw.parse().choices[0].message.content
        assert raw.headers["x-tokenomy-cost-usd"]
        assert (tmp_path / "tokenomy.db").exists()  # the embedded SQLite default
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    deadline = time.monotonic() + 15
    while True:  # the simulator goes with it
        try:
            httpx.get(f"http://127.0.0.1:{sim_port}/v1/models", timeout=1)
        except httpx.TransportError:
            break
        assert time.monotonic() < deadline, "the simulator outlived the gateway"
        time.sleep(0.2)
