"""Fixtures of the edge agent's own tests (helpers: edge_support.py)."""

import pytest
from edge_support import Mosquitto, write_config


@pytest.fixture
def broker(tmp_path):
    b = Mosquitto(tmp_path / "broker").start()
    yield b
    b.stop()


@pytest.fixture
def make_agent(tmp_path):
    """``make_agent(port, extra_toml="", start=True)``: an Agent of this checkout (stopped after)."""
    from mfg_edge.agent import Agent
    from mfg_edge.config import load

    agents = []

    def make(port, extra="", start=True):
        config = load(write_config(tmp_path / f"edge{len(agents)}.toml", port, tmp_path, extra))
        agent = Agent(config)
        agents.append(agent)
        return agent.start() if start else agent

    yield make
    for agent in agents:
        if not agent.stop_event.is_set():
            agent.stop()
