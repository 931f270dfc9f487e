"""Real-user monitoring: page timings measured in shoppers' browsers (static/js/rum.js), sent to ``POST /rum``."""
