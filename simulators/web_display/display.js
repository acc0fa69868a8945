// Reference shelf display: one MQTT (over WebSockets) client per display tile.
// URL: index.html?ws=ws://host:port&store=store-1&displays=1/2/d1,3/0/d2
// Topics (see edge/mqtt/asyncapi.json): smartshelf/{store}/{gondola}/{shelf}/display/{id}/{offer|set|ack|state|availability}
"use strict";

const params = new URLSearchParams(location.search);
const WS = params.get("ws") || `ws://${location.hostname}:9001`;
const STORE = params.get("store") || "store-001";
const DISPLAYS = (params.get("displays") || "1/1/d1").split(",").filter(Boolean);
// mirror=1: show what the displays show without being them (no Last Will, no acks, no state):
// for a second screen beside real or simulated displays, which stay the only ones the gateway hears.
const MIRROR = params.get("mirror") === "1";
// Major version of the gateway's messages this page understands (edge/mqtt/versioning.py). A message
// without "v" is version 1; fields this page does not know are ignored; another major version is refused.
const MESSAGE_VERSION = 1;
window.displays = {};  // per display: {shown: [...], refused: [...], withdrawn: [...], current, connected}

function now() { return Date.now() / 1000; }

class Display {
  constructor(spec) {
    const [gondola, shelf, id] = spec.split("/");
    this.id = id;
    this.base = `smartshelf/${STORE}/${gondola}/${shelf}/display/${id}`;
    this.record = { shown: [], refused: [], withdrawn: [], impressions: [], current: null, connected: false, errors: [] };
    window.displays[id] = this.record;
    this.el = document.getElementById("tile").content.firstElementChild.cloneNode(true);
    this.el.dataset.display = id;
    this.el.querySelector(".name").textContent = `${id} (gondola ${gondola}, shelf ${shelf})`;
    this.el.querySelector(".offer-view").addEventListener("click", () => this.impression());
    document.getElementById("displays").appendChild(this.el);
    this.timer = null;
    this.client = mqtt.connect(WS, {
      protocolVersion: 5,
      clientId: `web-display-${id}-${Math.random().toString(16).slice(2, 8)}`,
      clean: true,
      reconnectPeriod: 1000,
      will: MIRROR ? undefined : { topic: `${this.base}/availability`, payload: "offline", qos: 1, retain: true },
    });
    this.client.on("connect", () => {
      this.record.connected = true;
      this.setConn(true);
      this.client.subscribe([`${this.base}/offer`, `${this.base}/set`], { qos: 1 }, () => {
        if (!MIRROR) this.client.publish(`${this.base}/availability`, "online", { qos: 1, retain: true });
        this.publishState();
      });
    });
    this.client.on("close", () => { this.record.connected = false; this.setConn(false); });
    this.client.on("message", (topic, payload) => this.onMessage(topic, payload));
  }

  setConn(online) {
    const c = this.el.querySelector(".conn");
    c.textContent = online ? "online" : "offline";
    c.className = `conn ${online ? "online" : "offline"}`;
  }

  onMessage(topic, payload) {
    let msg;
    try { msg = JSON.parse(new TextDecoder().decode(payload)); } catch (e) { this.record.errors.push(`not JSON on ${topic}`); return; }
    if (msg === null || typeof msg !== "object") { this.record.errors.push(`not an object on ${topic}`); return; }
    if (msg.v !== undefined && msg.v !== MESSAGE_VERSION) {
      const what = msg.offer_id ? `offer ${msg.offer_id}` : (msg.type || msg.command || "message");
      const error = `${what}: message version ${msg.v} is not understood by this display (it understands ${MESSAGE_VERSION})`;
      this.record.errors.push(error);
      console.warn(`display ${this.id}: ${error}`);
      return;
    }
    if (topic.endsWith("/set")) return this.onCommand(msg);
    if (msg.type === "offer") return this.onOffer(msg);
    if (msg.type === "withdraw") return this.onWithdraw(msg);
    this.record.errors.push(`unknown message type ${msg.type}`);
  }

  onOffer(offer) {
    if (typeof offer.offer_id !== "string" || typeof offer.expires_at !== "number") {
      this.record.errors.push("offer without offer_id/expires_at");
      return;
    }
    if (offer.expires_at <= now()) {  // never show a stale offer, even if the broker delivered one
      this.record.refused.push(offer.offer_id);
      this.ack(offer.offer_id, "expired");
      return;
    }
    this.record.current = offer;
    this.record.shown.push({ offer_id: offer.offer_id, at: now(), expires_at: offer.expires_at });
    this.render(offer);
    this.ack(offer.offer_id, "shown");
    this.publishState();
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.clear(offer.offer_id, null), Math.max(0, (offer.expires_at - now()) * 1000));
  }

  onWithdraw(w) {
    if (this.record.current && this.record.current.offer_id === w.offer_id) {
      this.record.withdrawn.push(w.offer_id);
      this.clear(w.offer_id, "withdrawn");
    }
  }

  onCommand(cmd) {
    if (cmd.command === "clear" && this.record.current) this.clear(this.record.current.offer_id, "withdrawn");
    else if (cmd.command === "identify") {
      this.el.classList.add("identify");
      setTimeout(() => this.el.classList.remove("identify"), 3000);
    } else if (cmd.command === "brightness" && typeof cmd.value === "number") {
      this.el.style.filter = `brightness(${Math.max(10, cmd.value)}%)`;
    }
  }

  render(offer) {
    const v = this.el.querySelector(".offer-view");
    v.querySelector(".product").textContent = offer.name;
    v.querySelector(".price").textContent = Number(offer.price).toFixed(2);
    v.querySelector(".reason").textContent = offer.reason;
    v.querySelector(".proof").textContent = offer.social_proof || "";
    v.querySelector(".optout").textContent = offer.opt_out || "";
    v.querySelector(".expires").textContent = `until ${new Date(offer.expires_at * 1000).toLocaleTimeString()}`;
    v.hidden = false;
    this.el.querySelector(".idle-view").hidden = true;
    this.el.classList.replace("idle", "showing");
  }

  clear(offerId, status) {
    if (!this.record.current || this.record.current.offer_id !== offerId) return;
    clearTimeout(this.timer);
    this.record.current = null;
    this.el.querySelector(".offer-view").hidden = true;
    this.el.querySelector(".idle-view").hidden = false;
    this.el.classList.replace("showing", "idle");
    if (status) this.ack(offerId, status);
    this.publishState();
  }

  impression() {
    const c = this.record.current;
    if (!c) return;
    this.record.impressions.push(c.offer_id);
    this.ack(c.offer_id, "impression");
  }

  ack(offerId, status) {
    if (MIRROR) return;
    const body = { offer_id: offerId, display: this.id, status: status, at: now() };
    this.client.publish(`${this.base}/ack`, JSON.stringify(body), { qos: 1 });
  }

  publishState() {
    const c = this.record.current;
    const state = { display: this.id, state: c ? "showing" : "idle", offer_id: c ? c.offer_id : null, updated_at: now() };
    // the offer id is internal: the tile says only whether it shows an offer
    this.el.querySelector(".state").textContent = c ? "showing" : "idle";
    if (!MIRROR) this.client.publish(`${this.base}/state`, JSON.stringify(state), { qos: 1, retain: true });
  }
}

document.getElementById("broker").textContent = `${WS} · store ${STORE}`;
for (const spec of DISPLAYS) new Display(spec);
