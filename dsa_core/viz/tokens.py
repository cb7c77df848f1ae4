"""The text itself as HTML: the query marked, the indexer's picks shaded by index score, and the tokens
that dense attention weighs most marked, so misses are visible. Marks are symbols and outlines as well as
colours, and every token has a text label (title and aria-label) for screen readers.

Long texts are compressed: only tokens near the query, a pick or a dense-top token are written out; the
gaps between them say how many tokens they hide.
"""

import html

import numpy as np

from dsa_core.viz import style

_CSS = (
    "<style>.dsa-text{line-height:2.1;font-size:1.05rem;direction:ltr}"
    ".dsa-text span.t{unicode-bidi:isolate;padding:1px 0;border-radius:3px;white-space:pre-wrap}"
    ".dsa-text span.k,.dsa-text span.q,.dsa-text span.m{padding:1px 2px;margin:0 1px}"
    ".dsa-text .q{outline:3px solid " + style.ROLE["query"] + ";font-weight:700}"
    ".dsa-text .k{border-bottom:3px solid " + style.BLUE + "}"
    ".dsa-text .d{box-shadow:inset 0 -3px 0 " + style.ROLE["oracle"] + "}"
    ".dsa-text .m{outline:2px dashed " + style.ROLE["missed"] + "}"
    ".dsa-text .f{opacity:.45}.dsa-text .gap{font-style:italic;opacity:.7}"
    ".dsa-text sup{font-size:.65em;margin-left:1px}</style>"
)

LEGEND = (
    "**Legend:** <span style='outline:3px solid {q}'>query</span> · "
    "<span style='background:{b};color:#fff'>kept by the indexer ▲</span> "
    "(deeper blue = higher index score) · "
    "<span style='box-shadow:inset 0 -3px 0 {g}'>in dense attention's top-k ◆</span> · "
    "<span style='outline:2px dashed {r}'>dense top-k but dropped ✖</span> · faded = after the query "
    "(causal future) · ◌ = the rest of a character begun in the token before (emoji, Chinese…)"
).format(q=style.ROLE["query"], b=style.BLUE, g=style.ROLE["oracle"], r=style.ROLE["missed"])


_LIGHT, _DARK = np.array([207, 227, 241]), np.array([0, 114, 178])  # pale blue .. Okabe-Ito blue


def _luminance(rgb):
    c = np.asarray(rgb) / 255.0
    c = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return float(c @ [0.2126, 0.7152, 0.0722])


def _shade(score, lo, hi):
    """A solid blue from pale to deep as the index score grows, with black or white text, whichever
    contrasts more: legible on light and dark themes alike (no transparency over the page colour)."""
    a = 0.0 if hi <= lo else float(np.clip((score - lo) / (hi - lo), 0, 1))
    rgb = np.rint(_LIGHT + a * (_DARK - _LIGHT)).astype(int)
    text = "#000" if _luminance(rgb) > 0.179 else "#fff"
    return "background:#{:02x}{:02x}{:02x};color:{}".format(*rgb, text)


def token_html(tokens, query, selected=(), scores_row=None, dense_top=(), context=3, max_tokens=1200):
    """HTML for st.markdown(unsafe_allow_html=True) or IPython.display.HTML.

    tokens: display strings; query: position; selected: kept positions (-1 ignored); scores_row: [T]
    index scores of this query (shade of kept tokens); dense_top: positions of dense attention's top-k.
    Texts longer than max_tokens are compressed to `context` tokens around every marked position.
    """
    n = len(tokens)
    query = int(min(max(query, 0), max(n - 1, 0)))
    sel = {int(i) for i in np.asarray(selected, dtype=np.int64).ravel() if 0 <= i < n}
    top = {int(i) for i in np.asarray(dense_top, dtype=np.int64).ravel() if 0 <= i < n}
    sc = style.f32(scores_row) if scores_row is not None else np.zeros(n, np.float32)
    vis = sc[[i for i in sel if np.isfinite(sc[i])]] if sel else np.zeros(0, np.float32)
    lo, hi = (float(vis.min()), float(vis.max())) if vis.size else (0.0, 1.0)
    show = np.ones(n, bool)
    if n > max_tokens:
        show[:] = False
        for i in sel | top | {query}:
            show[max(0, i - context) : i + context + 1] = True
        show[max(0, query - 4 * context) : query + 1] = True
    out, hidden = [_CSS, "<div class='dsa-text' dir='ltr'>"], 0
    for i, tok in enumerate(tokens):
        if not show[i]:
            hidden += 1
            continue
        if hidden:
            out.append(
                f"<span class='gap' aria-label='{hidden} tokens not shown'> … {hidden} tokens … </span>"
            )
            hidden = 0
        shown = html.escape(style.display_token(tok).replace("·", " ").replace("↵", "↵\n"))
        cls, marks, desc, css = ["t"], "", [f"token {i}"], ""
        if str(tok).startswith("◌"):
            desc.append("continues the character begun in the token before")
        if i == query:
            cls.append("q")
            desc.append("the query")
        if i > query:
            cls.append("f")
            desc.append("future, not visible to the query")
        if i in sel:
            cls.append("k")
            marks += "▲"
            css = _shade(sc[i], lo, hi)
            desc.append(f"kept by the indexer, index score {sc[i]:.3g}")
        if i in top:
            cls.append("d")
            marks += "◆"
            desc.append("in dense attention's top-k")
            if i not in sel and i != query:
                cls.append("m")
                marks += "✖"
                desc.append("missed by the indexer")
        label = html.escape("; ".join(desc) + f": {style.display_token(tok)}", quote=True)
        sup = f"<sup aria-hidden='true'>{marks}</sup>" if marks else ""
        out.append(
            f"<span class='{' '.join(cls)}' style='{css}' title='{label}' aria-label='{label}' "
            f"dir='auto'>{shown}{sup}</span>"
        )
    if hidden:
        out.append(f"<span class='gap'> … {hidden} tokens … </span>")
    out.append("</div>")
    return "".join(out)
