"""Which layers of a GGUF model attend through a sliding window, as llama.cpp (b11434) decides it.

A sliding-window layer keeps only its window of keys and values, so its KV cache is a fraction of a full layer's;
planning memory without knowing which layers slide over-counts the cache of a Gemma 3 several times. llama.cpp
decides per architecture: the file may record the layers (`<arch>.attention.sliding_window_pattern`, a list of
booleans or a period), otherwise the architecture's loader applies a built-in period, and some architectures use
a window only when the file records a positive one. `SLIDING_WINDOW_RULES` mirrors those loaders for the common
architectures; an architecture not listed is planned with every layer attending to the whole context, which can
only over-estimate its cache.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs


@attrs.frozen(kw_only=True)
class SlidingWindowRule:
    #: Every `period`-th layer attends to the whole context, the others slide.
    period: int
    #: The full layer comes first in each period (layer 0 full) rather than last.
    full_layer_first: bool = False
    #: The window llama.cpp uses when the file records none.
    default_window: int | None = None
    #: Without a positive `<arch>.attention.sliding_window` in the file, the model has no sliding layers.
    needs_window_in_file: bool = False


#: Architecture name (`general.architecture`) -> how llama.cpp b11434's loader for it sets the sliding layers.
SLIDING_WINDOW_RULES: dict[str, SlidingWindowRule] = {
    "gemma2": SlidingWindowRule(period=2, default_window=4096),
    "gemma3": SlidingWindowRule(period=6, needs_window_in_file=True),
    "cohere2": SlidingWindowRule(period=4),
    "cohere2moe": SlidingWindowRule(period=4, full_layer_first=True),
    "olmo2": SlidingWindowRule(period=4, needs_window_in_file=True),
    "gpt-oss": SlidingWindowRule(period=2),
    "afmoe": SlidingWindowRule(period=4, needs_window_in_file=True),
    "plamo3": SlidingWindowRule(period=8, needs_window_in_file=True),
    "exaone-moe": SlidingWindowRule(period=4, default_window=128),
}


@attrs.frozen(kw_only=True)
class SlidingWindow:
    window: int
    layers: list[int]


def sliding_window(
    *,
    architecture: str | None,
    block_count: int | None,
    window_in_file: int | None,
    pattern_in_file: int | Sequence[bool] | None,
) -> SlidingWindow | None:
    """The window and the sliding layers llama.cpp will use, or None when every layer sees the whole context."""
    rule = SLIDING_WINDOW_RULES.get(architecture or "")
    if rule is None or not block_count:
        return None
    if rule.needs_window_in_file and not window_in_file:
        return None
    window = window_in_file or rule.default_window
    if not window:
        return None
    if isinstance(pattern_in_file, Sequence):
        layers = [index for index, slides in enumerate(pattern_in_file[:block_count]) if slides]
    else:
        period = pattern_in_file if pattern_in_file is not None else rule.period
        layers = [index for index in range(block_count) if _slides(index, period, rule.full_layer_first)]
    return SlidingWindow(window=window, layers=layers) if layers else None


def _slides(layer: int, period: int, full_layer_first: bool) -> bool:
    if period == 0:  # llama.cpp reads a period of 0 as "every layer slides"
        return True
    if full_layer_first:
        return layer % period != 0
    return layer % period < period - 1
