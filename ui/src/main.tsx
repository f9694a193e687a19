import { render } from "solid-js/web";
import "./styles.css";
import "./lib/theme";
import App from "./App";

render(() => <App />, document.getElementById("app")!);
