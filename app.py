"""Entry point: `streamlit run app.py`. Routes to the pages in lessons/ (placeholder until the app lands)."""
import streamlit as st

st.set_page_config(page_title="DeepSeek Sparse Attention, explained", layout="wide")
st.title("DeepSeek Sparse Attention, explained")
st.write("The app is being built. Run the tests with `bash scripts/test.sh`.")
