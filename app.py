"""Entry point: `streamlit run app.py`. A router only: page config, the shared sidebar, st.navigation."""

import streamlit as st

from lessons import profile, state, wire

wire.install()  # a lone surrogate typed in a text box must not freeze the page (lessons/wire.py)
profile.install()  # DSA_APP_PROFILE=path: one JSON line per script run (lessons/profile.py); unset: nothing

# No page_icon and no st.Page icons: Streamlit fetches material-icon favicons from fonts.gstatic.com,
# and the app must work offline (tests/e2e checks that no request leaves the machine).
st.set_page_config(page_title="DeepSeek Sparse Attention, explained", layout="wide")
pages = [
    st.Page("lessons/explore.py", title="Explore", default=True),
    st.Page("lessons/learn.py", title="Learn"),
    st.Page("lessons/family.py", title="Family"),
    st.Page("lessons/generate.py", title="Generate"),
    st.Page("lessons/train.py", title="Train"),
    st.Page("lessons/cost.py", title="Cost"),
]
page = st.navigation(pages)
state.sidebar(link_box=page.title not in ("Explore", "Family"))  # those two draw it in their query part
page.run()
