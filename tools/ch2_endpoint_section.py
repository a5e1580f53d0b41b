# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# ruff: noqa: E402, F821 (notebook cells: the names come from the chapter's earlier cells)
# The closing section of chapter 2 (issue 15), cells in order, to be pasted into
# solutions/02_mitbih_lstm_fcn.ipynb after section 6 and before the Summary. It uses
# names of the notebook's earlier cells: better, X_test, y_test, CLASSES, SEED_HPARAMS,
# predict_proba, per_class_table, checks, pd, np, time. A line for the Summary:
# "- Deploying is saving one file and serving it: the endpoint's answers are the model's,
#   and it must answer bad input with a clear 4xx and keep serving."
# python tools/run_ch2_endpoint_section.py runs these cells on their own and times them.

# %% [markdown]
# ## 7. From notebook to endpoint
#
# The seed did not stop at a table of metrics. It deployed the trained LSTM-FCN as a
# real-time endpoint, sent it the test split as CSV in batches of 100, read back one row
# per beat with the predicted class one-hot (`y_1` ... `y_5`) and the class
# probabilities (`p_1` ... `p_5`), computed its per-class table from those answers, and
# deleted the endpoint. A cloud account is not needed for any of it: the same steps run
# here, on this machine, with open tools.
#
# 1. **Save** the model to one file: the weights, the constructor's hyperparameters, the
#    class names, the input length and the version of the beat preprocessing. A model
#    only understands beats cut the way its training beats were, so loading refuses a
#    file made with another preprocessing version.
# 2. **Deploy**: a web server loads the file and answers HTTP requests. It is
#    [FastAPI](https://fastapi.tiangolo.com) on the [uvicorn](https://www.uvicorn.org)
#    server, both preinstalled in Colab. In a terminal, one command does it:
#    `python -m ecg_course.serve --model lstm_fcn_better.pt --port 8080`.
# 3. **Invoke** it like any web service, then **stop** it.

# %%
from ecg_course import sources
from ecg_course.artifact import load_model, save_model

model_path = sources.cache_dir() / "models" / "lstm_fcn_better.pt"
model_path.parent.mkdir(parents=True, exist_ok=True)
save_model(better, model_path, class_names=CLASSES)
saved = load_model(model_path)
print(f"{model_path.name}: {model_path.stat().st_size / 1e6:.1f} MB")
print("classes", saved.class_names, "| input length", saved.input_length,
      "| preprocessing version", saved.preprocessing_version)
print("same hyperparameters:", {k: saved.hparams[k] for k in SEED_HPARAMS} == SEED_HPARAMS)

# %% [markdown]
# `start_endpoint` runs that command in a separate process, on a free port of
# `127.0.0.1` (reachable from this machine only), and returns once the server answers
# its health route. A separate process keeps this notebook free while it serves, and
# loads the model from the file, exactly as a deployment would; `endpoint.stop()` ends
# it, and it also ends by itself if this notebook's kernel goes away.

# %%
from ecg_course.endpoint import start_endpoint

endpoint = start_endpoint(model_path)
print(endpoint.url)
endpoint.health()

# %% [markdown]
# The endpoint answers `POST /invocations`. Send it three beats as CSV, one beat of 187
# numbers per line, with the header `Content-Type: text/csv`. Nine significant digits
# (`fmt="%.9g"`) write every float32 sample exactly.

# %%
import io

import requests

INVOKE_URL = f"{endpoint.url}/invocations"
body = io.StringIO()
np.savetxt(body, X_test[:3], delimiter=",", fmt="%.9g")
response = requests.post(INVOKE_URL, data=body.getvalue(), headers={"Content-Type": "text/csv"})
print(response.status_code, response.headers["content-type"])
print(response.text)

# %% [markdown]
# The answer is a small CSV table with a header line: `y_c` is 1 for the most probable
# class, `p_c` the probability of class `c` (`c = 1` is `N`, ..., `c = 5` is `Q`).
#
# A server must survive its clients' mistakes. Bad input gets an answer in the 4xx
# range (the client's fault) whose `detail` names the problem, and the server keeps
# serving. The rules are in `ecg_course.payload`, including the largest body it reads,
# `MAX_BODY_BYTES` (about 3,000 beats of CSV).

# %%
beat = ",".join(["0.5"] * 187)
mistakes = {
    "186 values": ",".join(["0.5"] * 186),
    "a header line": ",".join(f"x{i}" for i in range(187)) + "\n" + beat,
    "a NaN": beat[:-3] + "nan",
    "an empty body": "",
}
for name, data in mistakes.items():
    answer = requests.post(INVOKE_URL, data=data, headers={"Content-Type": "text/csv"})
    print(f"{name}: {answer.status_code} {answer.json()['detail']}")
print("still serving:", endpoint.health()["status"])

# %% [markdown]
# :::{exercise} Send the test split in batches of 100
# :label: ex2-endpoint-client
#
# Write the client loop the seed ran against its endpoint. For every batch of 100 beats
# of `X_test`, in order: write it as CSV as above, POST it to `INVOKE_URL` with the header
# `Content-Type: text/csv`, time the request with `time.perf_counter()`, and read the
# answer with `pd.read_csv(io.StringIO(response.text))`. Build
#
# - `answers`: one DataFrame with a row per test beat (index `0, 1, ...`, in the order of
#   `X_test`) and the columns `y_1` ... `y_5`, `p_1` ... `p_5`;
# - `latencies`: the seconds each request took, one per batch.
#
# Send all requests through one `requests.Session()`: it keeps the connection open.
# :::

# %% [markdown]
# :::{solution-start} ex2-endpoint-client
# :class: dropdown
# :::

# %%
### BEGIN SOLUTION send X_test in batches of 100; build answers and latencies
chunks, latencies = [], []
with requests.Session() as session:
    for start in range(0, len(X_test), 100):
        body = io.StringIO()
        np.savetxt(body, X_test[start:start + 100], delimiter=",", fmt="%.9g")
        sent = time.perf_counter()
        response = session.post(INVOKE_URL, data=body.getvalue(),
                                headers={"Content-Type": "text/csv"})
        latencies.append(time.perf_counter() - sent)
        response.raise_for_status()
        chunks.append(pd.read_csv(io.StringIO(response.text)))
answers = pd.concat(chunks, ignore_index=True)
### END SOLUTION
answers.head()

# %% [markdown]
# :::{solution-end}
# :::

# %%
checks.check_endpoint_client(answers, latencies, better, X_test)

# %% [markdown]
# Are these the model's own answers? Score the first 2,000 test beats in this notebook
# with `predict_proba`, in batches of 100 as well, and compare. The difference is zero
# on a CPU (at most float rounding on a GPU): the server ran the same weights on the
# same numbers, and the 9-digit text in both directions carried every float32 exactly.

# %%
P_COLUMNS = [f"p_{c}" for c in range(1, len(CLASSES) + 1)]
Y_COLUMNS = [f"y_{c}" for c in range(1, len(CLASSES) + 1)]
proba_endpoint = answers[P_COLUMNS].to_numpy(dtype=np.float32)

n_local = 2000
proba_local = predict_proba(better, X_test[:n_local], batch_size=100)
difference = np.abs(proba_endpoint[:n_local] - proba_local).max()
print(f"largest difference in {n_local:,} x {len(CLASSES)} probabilities: {difference:.1e}")
assert difference < 1e-5
assert (answers[Y_COLUMNS].to_numpy().argmax(axis=1) == proba_endpoint.argmax(axis=1)).all()

# %% [markdown]
# The seed's per-class table, now from the endpoint's answers: the one-hot columns give
# the predicted class, the probabilities the ROC-AUC.

# %%
table_endpoint = per_class_table(y_test, proba_endpoint, CLASSES)
table_endpoint.round(3)

# %% [markdown]
# How fast is it? Latency is the time one client waits for one answer; look at the
# median and at the 99th percentile, the slow tail that one request in a hundred
# sees. Throughput is how many beats per second go through while the client waits.
# Writing and reading text and crossing to a second process cost a little on top of the
# model itself: `benchmarks/bench_serve.py` measures the endpoint against in-process
# `predict_proba` side by side.

# %%
latency_ms = np.array(latencies) * 1000
print(f"per batch of 100: median {np.median(latency_ms):.0f} ms, "
      f"99th percentile {np.percentile(latency_ms, 99):.0f} ms ({len(latencies)} requests)")
print(f"throughput through the endpoint: {len(X_test) / sum(latencies):,.0f} beats/s")

# %% [markdown]
# Finally, the seed deleted its endpoint; here, stop the server. It finishes the
# requests in flight, then the process exits and its port closes.

# %%
endpoint.stop()
print(endpoint)

# %% [markdown]
# What a cloud endpoint adds to this is operations: several copies of the server behind
# a load balancer, authentication, encrypted traffic, monitoring. The model, the file it
# travels in, and the contract (beats in, `y_` and `p_` out, clear errors for bad input)
# are the part you now own.
