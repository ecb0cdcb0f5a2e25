import './zod-config';
import { mountHome } from './home';
import { mountPanel } from './panel/app';

/**
 * The script of every Tuneloop webview: the HTML shell (src/extension/webview/html.ts) names the app
 * to mount in a constant data attribute; all data arrives later as validated messages.
 */
const app = document.getElementById('app')!;
if (app.dataset.view === 'panel') mountPanel(app);
else mountHome(app);
