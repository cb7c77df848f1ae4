import streamlit as st
st.title('cost')
st.info('This page is being built.')
