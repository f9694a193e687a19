import { render } from "solid-js/web";
import "./styles.css";
import "./lib/theme";
import App from "./App";
import { startLive } from "./lib/store";

// Start fetching the state before the security check answers: on a big fleet the state is
// the slow part of the first screen.
startLive();

render(() => <App />, document.getElementById("app")!);
