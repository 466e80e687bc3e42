# The shell session of the tutorial "Your first plugin", run from the repository root.
# tests/test_docs.py runs it as written, in a fresh virtual environment.
# needs: example-plugin

# --8<-- [start:install]
pip install -e examples/vadkit-example-plugin
vadkit plugins                    # 'example' is loaded, with its components
vadkit list errors                # mae is listed, from plugin 'example'
vadkit describe errors mae        # its summary, documentation and parameters
# --8<-- [end:install]

# --8<-- [start:test]
python -m pytest examples/vadkit-example-plugin/tests
# --8<-- [end:test]

# --8<-- [start:train]
vadkit train --backbone tiny_ae --tasks vcr,motion --error mae --normalizer zscore \
    --set score.error_params.mae.power=0.5 --set 'data.size=[64,64]' --epochs 5 --out runs/my-plugin
grep -A1 'score.error_params.mae' runs/my-plugin/config.toml  # power = 0.5, recorded with the run
# --8<-- [end:train]

# --8<-- [start:evaluate]
vadkit score runs/my-plugin
vadkit evaluate runs/my-plugin                                 # mae and zscore, chosen at training
vadkit evaluate runs/my-plugin --error bpe --normalizer robust # the same scores, LUSS-AE's choices
cat runs/my-plugin/versions.json                               # the plugin's version is recorded
# --8<-- [end:evaluate]

# --8<-- [start:recipe]
vadkit describe recipes example-tiny                  # its settings, over the framework's defaults
vadkit train --recipe example-tiny --out runs/example-tiny
vadkit score runs/example-tiny
vadkit evaluate runs/example-tiny                     # motion, arrow and fused: mae and zscore
# --8<-- [end:recipe]
