"""`POST /v1/ask`: one question, read in the light of its conversation."""

from __future__ import annotations

import json
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from retrieval import EmptyCorpusError, QuestionError, Turn
from retrieval.text.analyze import normalize_space

from ..errors import KO_MESSAGES, ApiError
from ..models import AnswerOut, AskIn, TurnIn, error_responses
from ..services import Services, services

router = APIRouter(tags=["questions"])


def json_body(request: Request) -> None:
    """/v1/ask reads JSON only: any other declared type is a 415 (as documented), not a
    validation error about a body FastAPI never parsed. No Content-Type at all is read as JSON."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind and kind != "application/json" and not (kind.startswith("application/") and kind.endswith("+json")):
        raise ApiError(
            415,
            "unsupported_media_type",
            f'/v1/ask takes application/json, not {kind}; send {{"question": "..."}} with Content-Type: application/json',
        )


@router.post(
    "/v1/ask", response_model=AnswerOut, responses=error_responses(400, 413, 415, 422, 503),
    dependencies=[Depends(json_body)],
)  # fmt: skip
async def ask(body: AskIn, svc: Annotated[Services, Depends(services)]) -> Response:
    """Answer one question, reading it in the light of `history` (a follow-up). The reply is
    exactly the JSON of `quoteqa ask --json`; `answered` false with a `message` is a refusal,
    not an error."""
    config = svc.config
    if len(body.question) > config.max_question_chars:  # as documented: the limit is on the text sent
        n, limit = len(body.question), config.max_question_chars
        korean = any("\uac00" <= c <= "\ud7a3" for c in body.question[:200])
        raise ApiError(
            422,
            "bad_question",
            f"질문이 {n:,}자로 너무 깁니다. 최대 {limit:,}자까지 받습니다."
            if korean
            else f"the question is {n:,} characters long; the limit is {limit:,}",
        )
    if len(body.history) > config.max_history:
        raise ApiError(
            422,
            "history_too_long",
            f"history has {len(body.history)} turns; send the last {config.max_history} at most (QUOTEQA_API_MAX_HISTORY)",
        )
    history = tuple(_turn(svc, t) for t in body.history)
    max_quotes = body.max_quotes or config.max_quotes
    started = time.perf_counter()
    try:
        answer = await svc.ask_thread(svc.engine.ask, body.question, max_quotes, history)
    except EmptyCorpusError as exc:
        raise ApiError(
            503, "empty_corpus", KO_MESSAGES["empty_corpus"] if body.language == "ko" else str(exc)
        ) from None
    except QuestionError as exc:
        raise ApiError(422, "bad_question", str(exc)) from None
    svc.metrics.answered(answer.verdict, time.perf_counter() - started)
    return Response(json.dumps(answer.to_json(), ensure_ascii=False), media_type="application/json")


def _turn(svc: Services, turn: TurnIn) -> Turn:
    """The engine's `Turn`: where the turn's first quote ended is found again from its passage
    and text (the answer JSON carries no sentence numbers); a passage that is gone, or a quote
    it no longer holds, leaves only what the question and article say."""
    sentence, passage = -1, turn.passage
    if passage >= 0:
        try:
            view = svc.engine.store.snapshot().passage(passage)
        except (KeyError, IndexError):
            passage = -1
        else:
            quote = normalize_space(turn.quote)
            held = [
                i
                for i in range(view.n_sentences)
                if quote and normalize_space(view.text[slice(*view.sentence(i))]) in quote
            ]
            sentence = held[-1] if held else -1
    return Turn(turn.question, tuple(turn.articles), turn.answered, passage, sentence)
