# syntax=docker/dockerfile:1
# sndiag dashboard image. Build: docker build -t sndiag .   Run: docker run -p 8501:8501 -v sndiag-store:/data sndiag
# The entry point serves the gated app (app.py's st.App): with SNDIAG_PASSWORD or SNDIAG_OIDC_*
# set, no route but the sign-in page and /_stcore/health answers before sign-in (README).

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first, in their own layer: a code change does not reinstall them.
# requirements.txt ends with "-e ." for development; the image installs the package itself.
COPY requirements.txt ./
RUN grep -v '^-e ' requirements.txt > /tmp/req.txt \
    && pip install -r /tmp/req.txt
# The experiment's CNN (the extra sndiag[cnn]) is off by default: it adds PyTorch, ~750 MB with
# its CPU build. docker build --build-arg SNDIAG_CNN=1 -t sndiag . (TORCH_INDEX_URL: another build)
ARG SNDIAG_CNN=0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN if [ "$SNDIAG_CNN" = 1 ]; then pip install --index-url "$TORCH_INDEX_URL" "torch==2.13.*"; fi
COPY pyproject.toml README.md LICENSE ./
COPY sndiag ./sndiag
RUN pip install --no-deps .

FROM python:3.11-slim
# libsndfile reads wav/flac/ogg/aiff/mp3 (soundfile also ships its own); ffmpeg decodes anything else.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libsndfile1 ffmpeg curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 sndiag \
    && useradd --create-home --uid 10001 --gid 10001 sndiag \
    && mkdir -p /data \
    && chown sndiag:sndiag /data
COPY --from=build /opt/venv /opt/venv
# Compile the numba code sndiag runs (librosa's, used by db and PCEN, and the statistics kernel
# for float32/float64, writable and read-only input) into the image's cache, so the first
# comparison or PCEN does not wait ~10 s for it; the user may add more signatures.
ENV NUMBA_CACHE_DIR=/opt/numba-cache
RUN /opt/venv/bin/python -m sndiag.precompile \
    && chown -R 10001:10001 /opt/numba-cache
WORKDIR /app
COPY --chown=sndiag:sndiag app.py ./
COPY --chown=sndiag:sndiag pages ./pages
COPY --chown=sndiag:sndiag .streamlit ./.streamlit
ENV PATH=/opt/venv/bin:$PATH \
    STREAMLIT_SERVER_FILE_WATCHER_TYPE=none \
    PYTHONUNBUFFERED=1 \
    SNDIAG_STORE=/data/store \
    MPLCONFIGDIR=/tmp/mpl
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["curl", "-fsS", "http://localhost:8501/_stcore/health"]
ENTRYPOINT ["streamlit", "run", "app.py", "--server.address=0.0.0.0", "--server.port=8501"]
