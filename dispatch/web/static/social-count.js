/* The social queue's live count: the length of a post as its network counts it, updated while
   staff type. It counts as dispatch/social/counting.py does (graphemes; on Mastodon every link
   as 23; on LinkedIn UTF-16 units after escaping its reserved characters); the server's count,
   shown again after saving, stays the one that decides. Without this script the page works
   the same, with the count of the saved text. */
(function () {
  "use strict";
  var segmenter = window.Intl && Intl.Segmenter ? new Intl.Segmenter(undefined, { granularity: "grapheme" }) : null;
  var URL_RE = /https?:\/\/[^\s<>"]+?(?=[.,;:!?)\]»’'"]*(?:\s|$))/gi;
  var PLAIN_URL_RE = /^https?:\/\/(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}(?::\d{1,5})?(?:\/[A-Za-z0-9\-._~\/?#=&%+]*[A-Za-z0-9\-_~\/#=&%+])?\/?$/i;
  var HASHTAG_RE = /(^|[^\p{L}\p{N}_#])(#(?=[\p{L}\p{N}_]*[\p{L}])[\p{L}\p{N}_]+)/gu;
  var RESERVED = "\\|{}@[]()<>#*_~";

  function graphemes(text) {
    if (!segmenter) { return Array.from(text).length; }
    var count = 0;
    for (var _ of segmenter.segment(text)) { count += 1; }
    return count;
  }

  function urls(text) {
    var spans = [], match;
    URL_RE.lastIndex = 0;
    while ((match = URL_RE.exec(text)) !== null) {
      var start = match.index, end = start + match[0].length;
      // A closing parenthesis that balances one inside the URL belongs to it.
      while (end < text.length && text[end] === ")" &&
             (text.slice(start, end).split("(").length > text.slice(start, end).split(")").length)) {
        end += 1;
      }
      spans.push([start, end]);
      URL_RE.lastIndex = end;
    }
    return spans;
  }

  function mastodon(text) {
    var pieces = "", pos = 0;
    urls(text).forEach(function (span) {
      var url = text.slice(span[0], span[1]);
      pieces += text.slice(pos, span[0]);
      pieces += "x".repeat(PLAIN_URL_RE.test(url) ? 23 : Math.max(23, graphemes(url)));
      pos = span[1];
    });
    return graphemes(pieces + text.slice(pos));
  }

  function linkedin(text) {
    var keep = urls(text), match;
    HASHTAG_RE.lastIndex = 0;
    while ((match = HASHTAG_RE.exec(text)) !== null) {
      var start = match.index + match[1].length;
      keep.push([start, start + match[2].length]);
    }
    keep.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
    var length = 0, pos = 0;
    function plain(part) {
      for (var i = 0; i < part.length; i += 1) { length += RESERVED.indexOf(part[i]) >= 0 ? 2 : 1; }
    }
    keep.forEach(function (span) {
      if (span[0] < pos) { return; }
      plain(text.slice(pos, span[0]));
      length += span[1] - span[0];
      pos = span[1];
    });
    plain(text.slice(pos));
    return length;
  }

  var COUNTERS = { mastodon: mastodon, bluesky: graphemes, linkedin: linkedin };

  document.querySelectorAll("textarea[data-network]").forEach(function (area) {
    var count = COUNTERS[area.dataset.network];
    var output = document.getElementById(area.getAttribute("aria-describedby"));
    var limit = Number(area.dataset.limit);
    if (!count || !output) { return; }
    var used = output.querySelector("[data-used]");
    var over = output.querySelector("[data-over]");
    area.addEventListener("input", function () {
      var n = count(area.value.replace(/\r\n/g, "\n"));
      used.textContent = String(n);
      output.classList.toggle("over", n > limit);
      over.hidden = n <= limit;
      over.querySelector("[data-by]").textContent = String(n - limit);
    });
  });
})();
