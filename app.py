"""Entry point: `streamlit run app.py`. A router only: page config, the shared sidebar, st.navigation."""
import streamlit as st

from lessons import common

st.set_page_config(page_title="DeepSeek Sparse Attention, explained", page_icon=":material/filter_alt:",
                   layout="wide")
pages = [
    st.Page("lessons/explore.py", title="Explore", icon=":material/search:", default=True),
    st.Page("lessons/learn.py", title="Learn", icon=":material/school:"),
    st.Page("lessons/train.py", title="Train", icon=":material/model_training:"),
    st.Page("lessons/cost.py", title="Cost", icon=":material/payments:"),
]
page = st.navigation(pages)
common.sidebar()
page.run()
