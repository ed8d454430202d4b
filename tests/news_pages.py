"""Web pages and feeds written for the tests: real-looking news pages with the boilerplate a
newsroom wraps around an article (navigation, a cookie banner, related links, comments)."""

from __future__ import annotations

from html import escape

EN_PARAGRAPHS = (
    "The Kremlin said on Monday that President Vladimir Putin had no immediate plans to join Clubhouse, the invitation-only audio app.",
    "Spokesman Dmitry Peskov told reporters that the invitation from Elon Musk was interesting, but that more details were needed first.",
    "Musk had invited Putin to a conversation on the app on Saturday, writing in Russian on Twitter that it would be a great honour.",
    "Clubhouse has drawn millions of users in recent weeks, including technology executives, celebrities and politicians from many countries.",
)
KO_PARAGRAPHS = (
    "러시아 크렘린궁은 블라디미르 푸틴 대통령이 음성 기반 소셜미디어 클럽하우스에 당장 참여할 계획은 없다고 15일 밝혔다.",
    "드미트리 페스코프 크렘린궁 대변인은 일론 머스크의 초대가 흥미로운 제안이라면서도 더 자세한 내용을 알아봐야 한다고 기자들에게 말했다.",
    "머스크는 지난 13일 트위터에 러시아어로 글을 올려 푸틴 대통령과 클럽하우스에서 대화를 나누고 싶다고 제안했다.",
    "클럽하우스는 최근 몇 주 사이 기업인과 연예인, 정치인들이 잇달아 가입하면서 이용자가 크게 늘었다.",
)
BOILERPLATE = (
    "We use cookies to improve your experience on our site",
    "Subscribe to our newsletter for the latest headlines",
    "Ten gadgets you need this summer",
    "This is the best article I have read all year",
    "Copyright 2021 Example Daily News",
    "많이 본 뉴스",
)


def article_page(
    title: str,
    paragraphs: tuple[str, ...],
    *,
    canonical: str = "",
    charset: str | None = "utf-8",
    lang: str = "en",
    author: str = "Jane Doe",
    published: str = "2021-02-15T09:30:00+09:00",
    site: str = "Example Daily News",
    head_padding: int = 0,
) -> str:
    """A full news page: `head_padding` bytes of inline style before the meta charset push it
    past trafilatura's 15,000-byte window."""
    meta_charset = f'<meta charset="{charset}">' if charset else ""
    padding = f"<style>/* {'x' * head_padding} */</style>" if head_padding else ""
    canon = f'<link rel="canonical" href="{escape(canonical)}">' if canonical else ""
    body = "\n".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head>{padding}{meta_charset}
<title>{escape(title)} | {escape(site)}</title>
{canon}
<meta property="og:site_name" content="{escape(site)}">
<meta property="og:title" content="{escape(title)}">
<meta property="article:published_time" content="{published}">
<meta name="author" content="{escape(author)}">
</head><body>
<header><nav><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li><li><a href="/tech">Tech</a></li></ul></nav></header>
<div class="cookie-banner" id="cookie-consent"><p>{BOILERPLATE[0]}. <button>Accept all</button></p></div>
<main><article>
<h1>{escape(title)}</h1>
<p class="byline">By <span class="author">{escape(author)}</span></p>
{body}
</article>
<aside class="newsletter"><p>{BOILERPLATE[1]}.</p></aside>
<section class="related"><h2>Related</h2><ul><li><a href="/a">{BOILERPLATE[2]}</a></li><li><a href="/b">{BOILERPLATE[5]}</a></li></ul></section>
<section id="comments" class="comments"><h2>Comments</h2><div class="comment"><p>{BOILERPLATE[3]}!</p></div></section>
</main>
<footer><p>{BOILERPLATE[4]}. All rights reserved.</p></footer>
</body></html>"""


def en_page(**kw: object) -> str:
    return article_page("Kremlin says Putin has no plans to join Clubhouse", EN_PARAGRAPHS, **kw)  # type: ignore[arg-type]


def ko_page(**kw: object) -> str:
    kw.setdefault("lang", "ko")
    kw.setdefault("author", "홍길동 기자")
    kw.setdefault("site", "예시일보")
    return article_page('크렘린궁 "푸틴, 클럽하우스 참여 계획 없어"', KO_PARAGRAPHS, **kw)  # type: ignore[arg-type]


def rss(items: list[tuple[str, str]], title: str = "Example Daily News") -> str:
    rows = "".join(
        f"<item><title>{escape(t)}</title><link>{escape(link)}</link><guid>{escape(link)}</guid></item>"
        for t, link in items
    )
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title><link>http://example.org/</link><description>News</description>{rows}</channel></rss>'


def atom(items: list[tuple[str, str]], title: str = "예시일보") -> str:
    rows = "".join(
        f'<entry><title>{escape(t)}</title><link href="{escape(link)}"/><id>{escape(link)}</id><updated>2021-02-15T00:00:00Z</updated></entry>'
        for t, link in items
    )
    return f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>{title}</title><id>urn:x</id><updated>2021-02-15T00:00:00Z</updated>{rows}</feed>'
