#!/usr/bin/env bash
# End-to-end check of an OpenSearch node for what CloudShelf's search needs: a custom
# analyzer with edge_ngram, synonym_graph, the english stemmer, porter_stem and
# asciifolding (all from the analysis-common module), _analyze, indexing, a fuzzy match,
# a synonym match, a terms aggregation. Creates a throwaway index and deletes it again.
#
#   scripts/opensearch/smoke.sh        against $OPENSEARCH_URL, else this checkout's node
#
# Prints one line per check and "N passed, N failed" last; exits 1 when a check failed.
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"

URL=${OPENSEARCH_URL:-http://127.0.0.1:$OPENSEARCH_PORT}
URL=${URL%/}
INDEX=cloudshelf-smoke-$$
PASSED=0
FAILED=0

req() { # method path [json body]
	curl -sS --max-time 30 -X "$1" "$URL$2" -H 'Content-Type: application/json' ${3:+--data-binary "$3"}
}

# check <name> <json> <python expression over the parsed json `r`>
check() {
	if python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if eval(sys.argv[2]) else 1)' "$2" "$3" 2>/dev/null; then
		PASSED=$((PASSED + 1))
		printf 'ok    %s\n' "$1"
	else
		FAILED=$((FAILED + 1))
		printf 'FAIL  %s\n      expected: %s\n      got: %s\n' "$1" "$3" "$(head -c 600 <<<"$2")"
	fi
}

tokens() { python3 -c 'import json,sys; print(" ".join(t["token"] for t in json.load(sys.stdin)["tokens"]))'; }

trap 'req DELETE "/$INDEX" >/dev/null 2>&1 || true' EXIT

echo "OpenSearch at $URL: $(req GET / | python3 -c 'import json,sys; v=json.load(sys.stdin)["version"]; print(v["distribution"], v["number"])')"

r=$(req PUT "/$INDEX" '{
  "settings": {
    "number_of_shards": 1,
    "analysis": {
      "filter": {
        "autocomplete_edge": {"type": "edge_ngram", "min_gram": 2, "max_gram": 15},
        "book_synonyms": {"type": "synonym_graph", "synonyms": ["sci-fi, science fiction"]},
        "english_stemmer": {"type": "stemmer", "language": "english"}
      },
      "analyzer": {
        "book_text": {"tokenizer": "standard", "filter": ["lowercase", "asciifolding", "english_stemmer"]},
        "book_search": {"tokenizer": "standard",
                        "filter": ["lowercase", "asciifolding", "book_synonyms", "english_stemmer"]},
        "autocomplete": {"tokenizer": "standard", "filter": ["lowercase", "asciifolding", "autocomplete_edge"]},
        "autocomplete_search": {"tokenizer": "standard", "filter": ["lowercase", "asciifolding"]},
        "porter": {"tokenizer": "standard", "filter": ["lowercase", "porter_stem"]},
        "all_three": {"tokenizer": "standard",
                      "filter": ["lowercase", "book_synonyms", "english_stemmer", "autocomplete_edge"]}
      }
    }
  },
  "mappings": {
    "properties": {
      "title": {"type": "text", "analyzer": "book_text", "search_analyzer": "book_search",
                "fields": {"suggest": {"type": "text", "analyzer": "autocomplete",
                                       "search_analyzer": "autocomplete_search"}}},
      "genre": {"type": "keyword"}
    }
  }
}')
check "create index with edge_ngram, synonym_graph, stemmer, porter_stem, asciifolding" "$r" 'r.get("acknowledged") is True'

r=$(req POST "/$INDEX/_analyze" '{"analyzer": "autocomplete", "text": "Café Dune"}')
echo "      autocomplete(\"Café Dune\") -> $(tokens <<<"$r")"
check "_analyze edge_ngram + asciifolding" "$r" '[t["token"] for t in r["tokens"]] == ["ca", "caf", "cafe", "du", "dun", "dune"]'

r=$(req POST "/$INDEX/_analyze" '{"analyzer": "book_search", "text": "sci-fi books"}')
echo "      book_search(\"sci-fi books\") -> $(tokens <<<"$r")"
check "_analyze synonym_graph + english stemmer" "$r" '{"scienc", "fiction", "sci", "fi", "book"} <= {t["token"] for t in r["tokens"]}'

r=$(req POST "/$INDEX/_analyze" '{"analyzer": "porter", "text": "running shelves"}')
echo "      porter(\"running shelves\") -> $(tokens <<<"$r")"
check "_analyze porter_stem" "$r" '[t["token"] for t in r["tokens"]] == ["run", "shelv"]'

r=$(req POST "/$INDEX/_analyze" '{"analyzer": "all_three", "text": "sci-fi"}')
echo "      all_three(\"sci-fi\") -> $(tokens <<<"$r")"
check "_analyze synonym_graph + stemmer + edge_ngram in one analyzer" "$r" '{"sc", "sci", "scien", "scienc", "fi", "fic", "fiction"} <= {t["token"] for t in r["tokens"]}'

r=$(req POST "/$INDEX/_bulk?refresh=true" '{"index": {"_id": "1"}}
{"title": "A History of Science Fiction", "genre": "sci-fi"}
{"index": {"_id": "2"}}
{"title": "Dune", "genre": "sci-fi"}
{"index": {"_id": "3"}}
{"title": "Cooking for Beginners", "genre": "cooking"}
')
check "bulk index 3 books" "$r" 'r["errors"] is False and len(r["items"]) == 3'

r=$(req POST "/$INDEX/_search" '{"query": {"match": {"title": {"query": "dnue", "fuzziness": "AUTO"}}}}')
check "match with fuzziness: 'dnue' finds Dune" "$r" '[h["_id"] for h in r["hits"]["hits"]] == ["2"]'

r=$(req POST "/$INDEX/_search" '{"query": {"match": {"title": "sci-fi"}}}')
check "synonym: 'sci-fi' finds 'A History of Science Fiction'" "$r" '"1" in [h["_id"] for h in r["hits"]["hits"]]'

r=$(req POST "/$INDEX/_search" '{"query": {"match": {"title.suggest": "cook"}}}')
check "autocomplete: 'cook' finds 'Cooking for Beginners'" "$r" '[h["_id"] for h in r["hits"]["hits"]] == ["3"]'

r=$(req POST "/$INDEX/_search" '{"size": 0, "aggs": {"genres": {"terms": {"field": "genre"}}}}')
echo "      terms(genre) -> $(python3 -c 'import json,sys; print({b["key"]: b["doc_count"] for b in json.load(sys.stdin)["aggregations"]["genres"]["buckets"]})' <<<"$r" 2>/dev/null || true)"
check "terms aggregation on genre" "$r" '{b["key"]: b["doc_count"] for b in r["aggregations"]["genres"]["buckets"]} == {"sci-fi": 2, "cooking": 1}'

r=$(req DELETE "/$INDEX")
check "delete the test index" "$r" 'r.get("acknowledged") is True'
trap - EXIT

echo "$PASSED passed, $FAILED failed"
((FAILED == 0))
