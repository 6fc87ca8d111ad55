# Read by `flask` commands run from this folder (python-dotenv); real environment variables win.
# A checkout is a developer's: production sets CLOUDCODES_ENV=production (and the secret key) itself,
# and gunicorn never reads this file, so the web app there still refuses to start without the key.
CLOUDCODES_ENV=development
