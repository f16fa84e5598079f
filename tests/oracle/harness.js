// The oracle: the Customer.io/Segment Friendbuy destination's own published code, run
// on requests from fbcli's tests, one JSON object per line in, one per line out.
//
//     node tests/oracle/harness.js INSTALL_DIR
//
// INSTALL_DIR holds node_modules installed with `npm ci` from this directory's
// package.json and package-lock.json (tests/oracle/client.py does that, in a cache
// outside the repository).  Nothing here re-implements the destination: each request
// runs the installed packages' code paths end to end.
//
// Requests (every one may carry an "id", echoed in its answer):
//
//   {"op": "cloud", "action": A, "mapping": M, "event": E,
//    "settings"?: {"authKey", "authSecret"}, "replies"?: [status...], "tokenTtl"?: seconds,
//    "advanceClock"?: seconds}
//       Destination#executeAction of @segment/action-destinations' friendbuy cloud
//       destination (actions-core: mapping-kit transform, removeEmptyValues, the AJV
//       validation, then the action's perform).  HTTP goes to a stand-in for MAPI, seen
//       through actions-core's own fetch seam: /v1/authorization answers a token valid
//       for tokenTtl seconds (default a day) named after the key, other paths answer
//       the next status of "replies" (default 200).  "advanceClock" first moves the
//       harness's clock (Date.now) forward, so a token the destination keeps expires.
//       Answer: {"requests": [{method,
//       url, authorization, body}]} (every request made, authorization included) and,
//       when the action threw, {"error": {"name", "message"}}.
//
//   {"op": "direct", "action": A, "mapping": M, "event": E}
//       The browser destination (@segment/browser-destinations' friendbuy) through its
//       runtime's generatePlugins: a subscription that always matches, mapping M,
//       initialize replaced by a recorder of friendbuyAPI.push calls.  Answer:
//       {"pushes": [...]} and, when perform threw, {"error": ...}.
//
//   {"op": "fql", "trigger": T, "event": E}
//       @segment/destination-subscriptions: parseFql(T), then validate(parsed, E).
//       Answer: {"matches": bool} or {"error": ...} when T does not parse.
//
//   {"op": "definitions"}
//       Each action's fields as the destinations declare them, per mode:
//       {"cloud": {action: {field: declaration}}, "direct": {...}}.
//
//   {"op": "versions"}
//       The installed versions of the packages fbcli is compared with.
//
// Requests are handled one at a time, in order: the cloud destination keeps its MAPI
// token in a module-level variable, and the stand-in records per request.
'use strict'

const path = require('path')
const readline = require('readline')
const { createRequire } = require('module')

const installDir = process.argv[2]
if (!installDir) {
  process.stderr.write('usage: node harness.js INSTALL_DIR\n')
  process.exit(2)
}
const load = createRequire(path.join(path.resolve(installDir), 'package.json'))

const core = load('@segment/actions-core')
const coreDir = path.dirname(load.resolve('@segment/actions-core'))
// actions-core's request client calls `fetch.default` of this module at request time.
const fetchModule = load(path.join(coreDir, 'fetch.js'))
const cloudDefinition = load('@segment/action-destinations/dist/destinations/friendbuy').default
const browserDir = path.dirname(load.resolve('@segment/browser-destinations'))
const browserDefinition = load(path.join(browserDir, 'destinations', 'friendbuy')).destination
const { generatePlugins } = load(path.join(browserDir, 'runtime', 'plugin'))
const subscriptions = load('@segment/destination-subscriptions')

const cloud = new core.Destination(cloudDefinition)
const ALWAYS = 'type != "\u0000fbcli-oracle: never a type"'
const DEFAULT_SETTINGS = { authKey: 'oracle-key', authSecret: 'oracle-secret' }

let exchange = null // the stand-in's state for the request being handled
let clockOffset = 0 // milliseconds added to Date.now ("advanceClock")
const realNow = Date.now
Date.now = () => realNow() + clockOffset

fetchModule.default = async (request) => {
  const body = await request.text()
  const url = request.url
  exchange.requests.push({
    method: request.method,
    url,
    authorization: request.headers.get('authorization'),
    body
  })
  const json = (status, value) =>
    new fetchModule.Response(JSON.stringify(value), {
      status,
      headers: { 'content-type': 'application/json' }
    })
  if (url.endsWith('/v1/authorization')) {
    const key = JSON.parse(body).key
    const expires = new Date(Date.now() + exchange.tokenTtl * 1000).toISOString()
    return json(200, { token: `token-for-${key}`, expires })
  }
  const status = exchange.replies.length ? exchange.replies.shift() : 200
  return json(status, status < 400 ? {} : { error: `status ${status}` })
}

function describeError(error) {
  return { name: (error && error.name) || typeof error, message: String((error && error.message) || error) }
}

async function runCloud(request) {
  clockOffset += (request.advanceClock || 0) * 1000
  exchange = {
    requests: [],
    replies: [...(request.replies || [])],
    tokenTtl: request.tokenTtl === undefined ? 86400 : request.tokenTtl
  }
  const answer = {}
  try {
    await cloud.executeAction(request.action, {
      event: request.event,
      mapping: request.mapping,
      settings: request.settings || DEFAULT_SETTINGS
    })
  } catch (error) {
    answer.error = describeError(error)
  }
  answer.requests = exchange.requests
  exchange = null
  return answer
}

async function runDirect(request) {
  const pushes = []
  const recorder = { push: (call) => pushes.push(call) }
  const definition = { ...browserDefinition, initialize: async () => recorder }
  const plugins = generatePlugins(definition, { merchantId: 'oracle' }, [
    { partnerAction: request.action, enabled: true, subscribe: ALWAYS, mapping: request.mapping }
  ])
  const answer = {}
  try {
    for (const plugin of plugins) {
      await plugin.load({}, {})
      await plugin.track({ event: request.event })
    }
  } catch (error) {
    answer.error = describeError(error)
  }
  // JSON.stringify writes `undefined` array members (a push type) as null.
  answer.pushes = pushes
  return answer
}

function runFql(request) {
  const parsed = subscriptions.parseFql(request.trigger)
  if (parsed.error) {
    return { error: describeError(parsed.error) }
  }
  return { matches: subscriptions.validate(parsed, request.event) }
}

function definitions() {
  const fields = (definition) =>
    Object.fromEntries(Object.entries(definition.actions).map(([name, action]) => [name, action.fields]))
  return { definitions: { cloud: fields(cloudDefinition), direct: fields(browserDefinition) } }
}

function versions() {
  const lock = load('./package-lock.json')
  const locked = (name) => (lock.packages[`node_modules/${name}`] || {}).version
  return {
    versions: {
      '@segment/action-destinations': locked('@segment/action-destinations'),
      '@segment/browser-destinations': locked('@segment/browser-destinations'),
      '@segment/actions-core': locked('@segment/actions-core'),
      '@segment/actions-shared': locked('@segment/actions-shared'),
      ajv: locked('ajv'),
      node: process.version
    }
  }
}

async function handle(request) {
  switch (request.op) {
    case 'cloud':
      return runCloud(request)
    case 'direct':
      return runDirect(request)
    case 'fql':
      return runFql(request)
    case 'definitions':
      return definitions()
    case 'versions':
      return versions()
    default:
      return { error: { name: 'HarnessError', message: `unknown op ${JSON.stringify(request.op)}` } }
  }
}

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
let queue = Promise.resolve()
lines.on('line', (line) => {
  queue = queue.then(async () => {
    let request
    let answer
    try {
      request = JSON.parse(line)
      answer = await handle(request)
    } catch (error) {
      answer = { error: { ...describeError(error), harness: true } }
    }
    answer.id = request && request.id !== undefined ? request.id : null
    process.stdout.write(JSON.stringify(answer) + '\n')
  })
})
