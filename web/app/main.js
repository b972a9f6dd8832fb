// procpulse dashboard entry: reads the page state from the URL (lib/pagestate.js) and starts
// the host view (pages/host.js: live tail or a fetched range of one host) or the fleet view
// (pages/fleet.js: every host in one table).

import { setText } from './lib/dom.js';
import { fleetLink, hostLink, readState } from './lib/pagestate.js';
import { startFleetPage } from './pages/fleet.js';
import { startHostPage } from './pages/host.js';

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

const { state, errors } = readState(location.search);
const fleet = state.view === 'fleet';

// Tabs: plain links (a view switch is a page load); the current one is marked for readers too.
const tabHost = /** @type {HTMLAnchorElement} */ ($('tab-host'));
const tabFleet = /** @type {HTMLAnchorElement} */ ($('tab-fleet'));
tabHost.href = fleet ? hostLink(state.host, location.search) : location.search || '?';
tabFleet.href = fleetLink(location.search);
(fleet ? tabFleet : tabHost).setAttribute('aria-current', 'page');
document.body.dataset.view = state.view;
$('host-view').hidden = fleet;
$('fleet-view').hidden = !fleet;

if (errors.length) {
  const box = $('page-errors');
  setText(box, `Ignored in the address: ${errors.join('; ')}`);
  box.hidden = false;
}

if (fleet) startFleetPage();
else startHostPage(state);
