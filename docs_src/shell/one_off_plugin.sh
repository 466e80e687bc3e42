# A plugin in one .py file, loaded for one command with --plugin (or VADKIT_PLUGINS=file.py):
vadkit --plugin examples/python/one_off_plugin.py list errors
vadkit --plugin examples/python/one_off_plugin.py describe errors maxabs
