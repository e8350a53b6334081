"""REST form fields of the synthesis and video options, generated from
:data:`facespeak.options.OPTIONS` (the CLI's flags come from the same table).

:func:`options_form` makes a FastAPI dependency whose parameters are one optional form field
per option the command takes (name = the dataclass field; absent = the dataclass default). It
returns the validated ``(SpeechOptions, VideoOptions | None)``; a bad value raises the
dataclasses' ``InputError`` (422 with the same one-line message the CLI prints), a value of the
wrong type FastAPI's 422 (``"temperature: Input should be a valid number ..."``).
"""

import inspect
from collections.abc import Callable
from typing import Any

from ..options import Option, build_options, options_for

__all__ = ["options_form", "form_field_names"]


def _parameter(o: Option) -> inspect.Parameter:
    from fastapi import Form

    desc = o.describe() + (f"; one of {', '.join(o.choices)}" if o.choices else "")
    # the range and choices go into the schema only: the dataclasses' validate() checks them, so
    # a bad value gets the same one-line message as on the command line
    extra: dict[str, Any] = {"enum": list(o.choices)} if o.choices else {}
    if o.low is not None and o.high is not None:
        extra |= {"minimum": o.kind(o.low), "maximum": o.kind(o.high)}
    return inspect.Parameter(o.name, inspect.Parameter.KEYWORD_ONLY, annotation=o.kind | None,
                             default=Form(None, description=desc, json_schema_extra=extra or None))


def options_form(command: str) -> Callable[..., Any]:
    """A FastAPI dependency: the form fields of ``command``'s options ("tts" | "say") ->
    validated ``(SpeechOptions, VideoOptions | None)``."""
    opts = options_for(command, rest=True)

    def parse(**values: Any) -> Any:
        return build_options(values, command)

    parse.__signature__ = inspect.Signature([_parameter(o) for o in opts])  # type: ignore[attr-defined]
    parse.__name__ = f"{command}_options"
    return parse


def form_field_names(command: str) -> set[str]:
    """The option form fields an endpoint for ``command`` accepts."""
    return {o.name for o in options_for(command, rest=True)}
