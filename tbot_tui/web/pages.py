"""The two pages the server writes itself: the login form and the console page.

The console page is textual-serve 1.1's own ``app_index.html`` with the web-font
link removed (the console must not call a third party) and the websocket address
taken from the request, so it works through an SSH tunnel on any local port.
Templates are ``string.Template`` text; every value is HTML-escaped.
"""

from __future__ import annotations

import html
from string import Template

LOGIN_PAGE = Template("""<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>${title}: log in</title>
    <style>
      body { background: #0c181f; color: #e8eef2; font-family: menlo, monospace; display: flex;
             justify-content: center; align-items: center; min-height: 100vh; margin: 0; }
      form { background: #12232d; padding: 24px 32px; min-width: 280px; }
      h1 { font-size: 18px; margin: 0 0 16px 0; }
      label { display: block; margin: 12px 0 4px 0; }
      input { width: 100%; box-sizing: border-box; padding: 8px; font: inherit; }
      button { margin-top: 16px; padding: 8px 24px; font: inherit; background: #5e0ba7; color: #fff; border: none; }
      .problem { color: #ff8a80; min-height: 1.2em; margin: 8px 0 0 0; }
      .mode { color: #9fb3c0; font-size: 13px; }
    </style>
  </head>
  <body>
    <form method="post" action="/login" id="login">
      <h1>${title}</h1>
      <div class="mode">${mode}</div>
      <label for="user">User</label>
      <input id="user" name="user" autocomplete="username" required autofocus />
      <label for="password">Password</label>
      <input id="password" name="password" type="password" autocomplete="current-password" required />
      <p class="problem" id="problem">${problem}</p>
      <button type="submit" id="submit">Log in</button>
    </form>
  </body>
</html>
""")

LOGOUT_PAGE = Template("""<!DOCTYPE html>
<html lang="en">
  <head><meta charset="utf-8" /><title>${title}: log out</title></head>
  <body style="background:#0c181f;color:#e8eef2;font-family:menlo,monospace;padding:32px">
    <form method="post" action="/logout"><p>Logged in as ${user}.</p><button type="submit" id="logout">Log out</button></form>
  </body>
</html>
""")

CONSOLE_PAGE = Template("""<!DOCTYPE html>
<html>
  <head>
    <meta charset="utf-8" />
    <title>${title}</title>
    <link rel="stylesheet" href="${static_url}css/xterm.css" />
    <script src="${static_url}js/textual.js"></script>
    <style>
      body {
        background: #0c181f;
      }

      .dialog-container {
        position: absolute;
        width: 100vw;
        height: 100vh;
        display: flex;
        align-items: center;
        justify-content: center;
        z-index: 10;
        box-shadow: var(--shadow-elevation-high);
      }
      .shade {
        position: absolute;
        width: 100%;
        height: 100%;
        background: #0c181f;
        background-image: url("${static_url}images/background.png");
      }
      .intro {
        width: 640px;
        height: 240px;
        font-size: 16px;
        z-index: 20;
        font-family: "Roboto Mono", menlo, monospace;
        text-align: center;
        opacity: 1;
        color: rgba(255, 255, 255, 0.95);
        background-color: #12232d;
        display: flex;
        align-items: center;
        justify-content: center;
        margin: 32px;
      }

      body.-first-byte .intro-dialog,
      body.-first-byte .intro-dialog .shade {
        opacity: 0;
        transition: opacity 0.3s ease-out;
        display: none;
      }

      body .textual-terminal {
        opacity: 0;
        transition: opacity 0.3s ease-out;
      }

      body.-first-byte .textual-terminal {
        opacity: 1;
        transition: opacity 0.3s ease-out;
      }

      .intro svg {
        padding-right: 16px;
      }

      body Button {
        padding: 16px 32px;
        background-color: #5e0ba7;
        color: rgba(255, 255, 255, 0.95);
        border: none;
        font-family: "Roboto Mono", menlo, monospace;
        margin: 16px;
        display: block;
      }

      Button:hover {
        background: #ac5af4;
        cursor: pointer;
      }

      .closed-dialog {
        opacity: 0;
        display: none;
      }

      body.-closed .closed-dialog {
        opacity: 1;
        display: flex;
      }

      #start {
        display: none;
      }

      #start.-delay {
        display: flex;
      }
    </style>
    <script>
      function getStartUrl() {
        const url = new URL(window.location.href);
        const params = new URLSearchParams(url.search);
        params.delete("delay");
        return url.pathname + "?" + params.toString();
      }
      async function refresh() {
        const ping_url = document.body.dataset.pingurl;
        if (ping_url) {
          await fetch(ping_url, {
            method: "GET",
            mode: "no-cors",
          });
        }
        window.location.href = getStartUrl();
      }
    </script>
  </head>
  <body data-pingurl="">
    <div class="dialog-container intro-dialog">
      <div class="shade"></div>
      <div class="intro">
        <svg
          width="32px"
          viewBox="0 0 2933 2261"
          fill="none"
          xmlns="http://www.w3.org/2000/svg"
        >
          <path
            fill-rule="evenodd"
            clip-rule="evenodd"
            d="M2927.81 0H1677.1L1312.35 205.173H306.689L0.359375 434.921L204.029 893.177H735.972L644.784 2261H1060.36L1441.72 1974.97L2073.92 688.003H2334.4L2717.9 472.286L2927.81 0ZM1245.82 410.347L1276.32 277.656H330.85L153.929 410.347H1245.82ZM1229.16 482.83H100.972L251.134 820.694H813.449L722.26 2188.52H837.043L1229.16 482.83ZM1350.7 277.656L911.417 2188.52H1023.87L1662.19 615.52H2301.36L2451.52 277.656H1350.7ZM1460.19 205.173H2497.79L2733.69 72.4829H1696.09L1460.19 205.173Z"
            fill="#ffffff"
          />
        </svg>

        <div>${title}</div>
        <button type="button" onClick="refresh()" id="start">Start</button>
      </div>
    </div>

    <div class="dialog-container closed-dialog">
      <div class="shade"></div>
      <div class="intro">
        <div class="message">Session ended.</div>
        <button type="button" onClick="refresh()">Restart</button>
      </div>
    </div>

    <div
      id="terminal"
      class="textual-terminal"
      data-session-websocket-url="${websocket_url}"
      data-font-size="${font_size}"
    ></div>
  </body>
</html>
""")


def render(template: Template, **values: object) -> str:
    return template.substitute({key: html.escape(str(value), quote=True) for key, value in values.items()})
