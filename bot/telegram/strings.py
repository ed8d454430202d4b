"""Every text the bot sends, in both interface languages, and the command menus (as
python-telegram-bot's rules-bot keeps its texts in `components/const.py`). HTML: a value
inserted into a string must be escaped first (`markup.esc`)."""

from __future__ import annotations

from typing import Literal

UiLang = Literal["ko", "en"]

STRINGS: dict[UiLang, dict[str, str]] = {
    "en": {
        "welcome": (
            "<b>Hello!</b> I answer questions about the news articles I have read, "
            "with the exact sentences from the articles and where they come from.\n\n"
            "Try: <code>{example_en}</code>\n\n"
            "<b>안녕하세요!</b> 기사에 대해 질문하시면 기사 원문 문장과 출처로 답해 드립니다.\n"
            "예: <code>{example_ko}</code>\n\n"
            "/help — how to ask · /sources — the articles"
        ),
        "help": (
            "<b>How to ask</b>\n"
            "• In a private chat, just send a question.\n"
            "• In a group: <code>/ask your question</code>, mention me, or reply to my message.\n"
            "• In any chat: type <code>@{bot} your question</code> (inline mode).\n\n"
            "Ask a follow-up (<i>And what did they say?</i>) and I read it with your last questions; "
            "reply to one of my answers to follow up on that one. /new starts a new conversation.\n\n"
            "/sources lists the articles I can quote. "
            "Every answer is copied word for word from an article."
        ),
        "how_to_ask": "Please add a question, e.g. <code>/ask {example}</code>",
        "index_damaged": "Part of my index is damaged, so I could not answer this one. The operator has been told; please ask again later.",
        "index_partial": "<i>Part of my index is out of service; this answer comes from the rest.</i>",
        "example": "What did the minister say?",  # only while the corpus is empty
        "sources_title": "<b>Articles I can quote</b> ({count})",
        "sources_empty": "I have no articles yet.",
        "paragraphs": "{n} paragraphs",
        "paragraph": "¶ {n}",
        "more": "More ▸",
        "paragraph_button": "Full paragraph",
        "paragraph_button_n": "Full paragraph of quote {n}",
        "original_button": "Original / 원문",
        "original_of": "<b>Original of quote {n}</b> ({language}):",
        "no_original": "These quotes have no original in the corpus.",
        "helpful": "👍",
        "unhelpful": "👎",
        "thanks": "Thanks — your feedback was saved.",
        "following_up": "<i>following up on: {question}</i>",
        "new_conversation": "Starting a new conversation: your next question stands on its own.",
        "inline_how_to_ask": "No quote found · how to ask",
        "inline_refused": "Not available here · ask in your group with /ask",
        "cross_language": "<i>(These sentences are in another language than your question.)</i>",
        "unsure": "<i>Closest passage — it may not answer exactly.</i>",
        "expired": "This button is from an older answer. Please ask the question again.",
        "no_more": "There are no more quotes for this question.",
        "apology": "Sorry, something went wrong on my side. Please try again in a moment.",
        "refusal": "Sorry, this bot is not available in this chat.",
        "admins_only": "This command is for the bot's administrators.",
        "reloaded": "Reloaded the corpus: {articles} articles ({added} added, {replaced} updated, {removed} removed).",
        "reload_skipped": "Skipped {file}: {why}",
        "reload_busy": "Another writer (an ingest or a reindex) is updating the index; the last good version keeps answering. Try /reload again when it is done.",
        "stats": (
            "<b>Usage</b>\nQuestions served: {served}\n"
            "Abstentions: {abstained} ({rate})\nMedian latency: {median}\n"
            "Helpful: {helpful} ({votes} rated: {up} 👍, {down} 👎)"
        ),
        "inline_help_title": "Ask about the news",
        "inline_help_text": "Type a question after my name, e.g. @{bot} {example}",
        "inline_no_answer": "No quote found",
        "lang_ko": "Korean",
        "lang_en": "English",
        "lang_mixed": "Korean/English",
    },
    "ko": {
        "welcome": (
            "<b>안녕하세요!</b> 제가 읽은 뉴스 기사에 대해 질문하시면 "
            "기사 원문 문장과 출처로 답해 드립니다.\n\n"
            "예: <code>{example_ko}</code>\n\n"
            "<b>Hello!</b> Ask me about the news articles; I answer with their exact sentences.\n"
            "Try: <code>{example_en}</code>\n\n"
            "/help — 질문하는 법 · /sources — 기사 목록"
        ),
        "help": (
            "<b>질문하는 법</b>\n"
            "• 개인 대화에서는 질문을 그대로 보내세요.\n"
            "• 그룹에서는 <code>/ask 질문</code>, 저를 언급하거나 제 메시지에 답장하세요.\n"
            "• 어느 대화에서나 <code>@{bot} 질문</code> 을 입력하세요 (인라인 모드).\n\n"
            "이어지는 질문(<i>그럼 그들은 뭐라고 했나요?</i>)은 최근 질문과 함께 읽습니다. "
            "제 답변에 답장하면 그 답변에 이어서 묻는 것이 됩니다. /new 로 새 대화를 시작합니다.\n\n"
            "/sources 로 인용할 수 있는 기사를 볼 수 있습니다. "
            "모든 답은 기사 문장을 그대로 옮긴 것입니다."
        ),
        "how_to_ask": "질문을 함께 적어 주세요. 예: <code>/ask {example}</code>",
        "index_damaged": "색인 일부가 손상되어 이 질문에 답하지 못했습니다. 관리자에게 알렸으니 잠시 후 다시 물어봐 주세요.",
        "index_partial": "<i>색인 일부를 쓸 수 없어 나머지에서 찾은 답입니다.</i>",
        "example": "장관은 뭐라고 했나요?",  # 기사가 아직 없을 때만
        "sources_title": "<b>인용할 수 있는 기사</b> ({count})",
        "sources_empty": "아직 읽은 기사가 없습니다.",
        "paragraphs": "{n}개 문단",
        "paragraph": "{n}번째 문단",
        "more": "더 보기 ▸",
        "paragraph_button": "문단 전체",
        "paragraph_button_n": "{n}번 인용의 전체 문단",
        "original_button": "원문 / Original",
        "original_of": "<b>{n}번 인용의 원문</b> ({language}):",
        "no_original": "이 인용문들의 원문은 코퍼스에 없습니다.",
        "helpful": "👍",
        "unhelpful": "👎",
        "thanks": "감사합니다 — 의견을 저장했습니다.",
        "following_up": "<i>이전 질문에 이어서: {question}</i>",
        "new_conversation": "새 대화를 시작합니다. 다음 질문은 앞의 질문과 상관없이 답합니다.",
        "inline_how_to_ask": "인용할 문장 없음 · 질문하는 법",
        "inline_refused": "여기서는 쓸 수 없습니다 · 그룹에서 /ask 로 질문하세요",
        "cross_language": "<i>(질문과 다른 언어의 문장입니다.)</i>",
        "unsure": "<i>가장 가까운 문단입니다 — 정확한 답이 아닐 수 있습니다.</i>",
        "expired": "이전 답변의 버튼입니다. 질문을 다시 보내 주세요.",
        "no_more": "이 질문에 대한 인용문이 더 없습니다.",
        "apology": "죄송합니다. 문제가 생겼습니다. 잠시 후 다시 시도해 주세요.",
        "refusal": "죄송합니다. 이 대화에서는 이 봇을 사용할 수 없습니다.",
        "admins_only": "관리자만 사용할 수 있는 명령입니다.",
        "reloaded": "기사를 다시 읽었습니다: {articles}개 (추가 {added}, 갱신 {replaced}, 삭제 {removed}).",
        "reload_skipped": "{file} 파일을 건너뛰었습니다: {why}",
        "reload_busy": "다른 작업(기사 추가나 재색인)이 색인을 갱신하는 중입니다. 마지막으로 완성된 색인이 계속 답합니다. 끝난 뒤 /reload 를 다시 보내 주세요.",
        "stats": (
            "<b>사용 현황</b>\n답한 질문: {served}\n"
            "답하지 못한 질문: {abstained} ({rate})\n응답 시간 중앙값: {median}\n"
            "도움이 됨: {helpful} (평가 {votes}건: 👍 {up}, 👎 {down})"
        ),
        "inline_help_title": "뉴스에 대해 질문하기",
        "inline_help_text": "제 이름 뒤에 질문을 입력하세요. 예: @{bot} {example}",
        "inline_no_answer": "인용할 문장을 찾지 못했습니다",
        "lang_ko": "한국어",
        "lang_en": "영어",
        "lang_mixed": "한국어/영어",
    },
}

# The commands shown in Telegram's menu, per scope; descriptions per interface language.
PRIVATE_COMMANDS: dict[UiLang, list[tuple[str, str]]] = {
    "en": [
        ("ask", "Ask a question about the news"),
        ("sources", "List the articles"),
        ("new", "Start a new conversation"),
        ("help", "How to ask"),
        ("start", "Welcome"),
    ],
    "ko": [
        ("ask", "뉴스에 대해 질문하기"),
        ("sources", "기사 목록"),
        ("new", "새 대화 시작"),
        ("help", "질문하는 법"),
        ("start", "시작"),
    ],
}
GROUP_COMMANDS: dict[UiLang, list[tuple[str, str]]] = {
    lang: [c for c in cmds if c[0] != "start"] for lang, cmds in PRIVATE_COMMANDS.items()
}


def t(lang: UiLang, key: str, **values: object) -> str:
    """One interface string; `values` are inserted as given (escape user text first)."""
    text = STRINGS[lang][key]
    return text.format(**values) if values else text


def ui_language(question_language: str | None, user_language_code: str | None) -> UiLang:
    """The question's language wins; for mixed or unknown text, the user's Telegram locale."""
    if question_language in ("ko", "en"):
        return question_language  # type: ignore[return-value]
    if user_language_code and user_language_code.lower().startswith("ko"):
        return "ko"
    return "en"


def example(lang: UiLang, examples: dict[UiLang, str] | None) -> str:
    """The example question for `lang`: one made from the corpus, else the fallback."""
    return (examples or {}).get(lang) or STRINGS[lang]["example"]
