// The HTML report's script, inlined: a tooltip for anything with `data-tip` (which allocating
// call and source line a buffer came from, what a sweep run failed), selection by click (a
// buffer on the map and its row in the table; a sweep cell and its run), and copy buttons for
// replay specs. Plain DOM, no library; it must never raise an error (the browser test fails on
// any console error), so clipboard failures fall back to selecting the text.
export const PAGE_SCRIPT = `
(function () {
  'use strict';
  var tip = document.getElementById('tip');
  function place(e) {
    var x = e.clientX + 14, y = e.clientY + 14;
    var w = tip.offsetWidth, h = tip.offsetHeight;
    if (x + w > window.innerWidth - 4) x = Math.max(4, e.clientX - w - 14);
    if (y + h > window.innerHeight - 4) y = Math.max(4, e.clientY - h - 14);
    tip.style.left = x + 'px';
    tip.style.top = y + 'px';
  }
  document.addEventListener('mouseover', function (e) {
    var t = e.target && e.target.closest ? e.target.closest('[data-tip]') : null;
    if (!t) { tip.hidden = true; return; }
    tip.textContent = t.getAttribute('data-tip');
    tip.hidden = false;
    place(e);
  });
  document.addEventListener('mousemove', function (e) { if (!tip.hidden) place(e); });
  document.addEventListener('mouseleave', function () { tip.hidden = true; });

  function select(ref) {
    var old = document.querySelectorAll('.selected');
    for (var i = 0; i < old.length; i++) old[i].classList.remove('selected');
    var all = document.querySelectorAll('[data-ref="' + ref + '"]');
    for (var j = 0; j < all.length; j++) all[j].classList.add('selected');
    var row = document.getElementById(ref);
    if (row) {
      row.classList.add('selected');
      var box = row.closest ? row.closest('details') : null;
      if (box) box.open = true;
      var section = row.closest ? row.closest('section') : null;
      var detail = section ? section.querySelector('.detail') : null;
      if (detail && row.tagName === 'TR') detail.textContent = row.getAttribute('data-summary') || row.textContent;
      if (row.scrollIntoView) row.scrollIntoView({ block: 'nearest' });
    }
  }
  document.addEventListener('click', function (e) {
    var copy = e.target && e.target.closest ? e.target.closest('button.copy') : null;
    if (copy) {
      var text = copy.getAttribute('data-copy') || '';
      var done = function () { copy.textContent = 'copied'; };
      var fallback = function () {
        var area = document.createElement('textarea');
        area.value = text;
        document.body.appendChild(area);
        area.select();
        try { document.execCommand('copy'); done(); } catch (err) { copy.textContent = 'select and copy'; }
        document.body.removeChild(area);
      };
      try {
        if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, fallback);
        else fallback();
      } catch (err) { fallback(); }
      return;
    }
    var t = e.target && e.target.closest ? e.target.closest('[data-ref]') : null;
    if (t) select(t.getAttribute('data-ref'));
  });
})();
`
