/** The demo page's markup and style; the behaviour is in ./page.ts (bundled to /demo.js). */
export const DEMO_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>switchyard demo: every rung side by side</title>
<style>
  :root { font-family: system-ui, sans-serif; color: #1d2430; background: #f4f6f9; }
  body { margin: 0 auto; max-width: 1200px; padding: 24px; }
  h1 { margin: 0 0 4px; font-size: 1.5rem; }
  p.lede { margin: 0 0 20px; color: #4a5568; }
  #rungs { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 16px; }
  .rung { background: #fff; border-radius: 10px; padding: 16px; box-shadow: 0 1px 3px rgba(0,0,0,.12); }
  .rung h2 { margin: 0 0 8px; font-size: 1.15rem; display: flex; justify-content: space-between; align-items: center; }
  .state { font-size: .8rem; padding: 2px 8px; border-radius: 999px; background: #e2e8f0; }
  .rung[data-state="connected"] .state { background: #c6f6d5; color: #22543d; }
  .rung[data-state="reconnecting"] .state, .rung[data-state="connecting"] .state { background: #fefcbf; color: #744210; }
  .rung[data-state="disconnected"] .state { background: #fed7d7; color: #822727; }
  dl { display: grid; grid-template-columns: auto 1fr; gap: 4px 12px; margin: 8px 0 12px; font-size: .92rem; }
  dt { color: #718096; } dd { margin: 0; font-variant-numeric: tabular-nums; }
  button { font: inherit; padding: 6px 14px; border-radius: 6px; border: 1px solid #2b6cb0; background: #3182ce; color: #fff; cursor: pointer; }
  button:disabled { opacity: .5; cursor: default; }
  .caps { font-size: .8rem; color: #718096; margin-top: 10px; }
  .cursor { margin-top: 12px; border-top: 1px solid #e2e8f0; padding-top: 8px; }
  .cursor svg { width: 100%; height: 70px; background: #f7fafc; border-radius: 6px; }
  .cursor-counts { font-size: .8rem; color: #4a5568; font-variant-numeric: tabular-nums; }
  .presence { margin-top: 10px; border-top: 1px solid #e2e8f0; padding-top: 8px; font-size: .85rem; }
  .presence ul { margin: 4px 0 0; padding-left: 18px; color: #4a5568; }
</style>
</head>
<body>
<h1>switchyard: every rung side by side</h1>
<p class="lede">One panel per transport this server offers (from <code>/rt/negotiate</code>). Each panel runs the
production client restricted to that rung: echo round trips go client &rarr; server hub &rarr; client, and the ticker
is a server broadcast every second to every client of every rung. Under each panel a cursor circles, sent with
<code>publish(topic, position, { reliable: false })</code> 30 times a second: the ring is where it was sent, the dot
where the last delivered update put it (a datagram on WebTransport; the one ordered connection elsewhere). At the
bottom of each panel, presence: the clients on that rung's topic right now (open a second tab to see it change).
<a href="/rt/metrics" id="metrics-link">Server metrics</a> (Prometheus text; with <code>API_KEY=... npm start</code>,
the browser asks for a password: the key, any user name; see docs/server-api.md).</p>
<div id="rungs"></div>
<script type="module" src="/demo.js"></script>
</body>
</html>
`;
