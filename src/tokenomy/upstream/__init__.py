"""A simulated upstream provider: no inference, no API keys.

In: OpenAI (chat completions, responses, embeddings, models) and Anthropic (messages) HTTP
requests. Out: the real APIs' JSON, SSE streams and error shapes, with deterministic text and
exact ``o200k_base`` usage; ``[sim:...]`` directives in the last user message inject errors,
hangs, dropped streams and missing usage. See :mod:`tokenomy.upstream.simulator`.
"""

from tokenomy.upstream.simulator import SimulatorConfig, count_prompt, create_simulator

__all__ = ["SimulatorConfig", "count_prompt", "create_simulator"]
